"""The PostgreSQL destination's first full sync (extract/pg_load.py) against the
real server: it keeps dlt's merge result (one row per id, the newest version)
whether the raw table is empty (staging moved in) or not (dlt's merge SQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from extract_helpers import pg_query

from extract.config import PgSettings
from extract.pg_load import postgres

COLUMNS: Any = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    "updated_at": {"data_type": "timestamp", "dedup_sort": "desc"},
    "name": {"data_type": "text"},
}


def _rows(versions: list[tuple[int, str, str]]) -> Iterator[pa.Table]:
    """One Arrow page, as the extractor yields them (no _dlt_id column)."""
    ids, stamps, names = zip(*versions, strict=True)
    yield pa.table({"id": pa.array(ids, pa.int64()),
                    "updated_at": pa.array([datetime.fromisoformat(t) for t in stamps],
                                           pa.timestamp("us", "UTC")),
                    "name": pa.array(names, pa.string())})


def _load(pg: tuple[PgSettings, str], tmp_path: Path, versions: list[tuple[int, str, str]],
          **run: Any) -> None:
    settings, dataset = pg
    pipeline = dlt.pipeline(pipeline_name=f"pgload_{dataset}", dataset_name=dataset,
                            destination=postgres(settings.dlt_credentials()),
                            pipelines_dir=str(tmp_path / "pipelines"))
    resource = dlt.resource(_rows(versions), name="deals", primary_key="id", columns=COLUMNS,
                            write_disposition={"disposition": "merge",
                                               "strategy": "delete-insert"})
    pipeline.run(resource, loader_file_format="csv", **run)


def _names(pg: tuple[PgSettings, str]) -> dict[int, str]:
    """id -> name of the raw table; fails on an id stored twice."""
    settings, dataset = pg
    rows = pg_query(settings, f'select id, name from "{dataset}".deals')
    assert len(rows) == len({r[0] for r in rows}), rows
    return dict(rows)


def _execute(settings: PgSettings, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=settings.host, port=settings.port, user=settings.user,
                            password=settings.password or None, dbname=settings.database)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


# id 1 read from two views in one run, newest last; id 2 newest first
FIRST = [(1, "2026-01-01T00:00:00Z", "old"), (2, "2026-01-03T00:00:00Z", "new"),
         (1, "2026-01-02T00:00:00Z", "new"), (2, "2026-01-01T00:00:00Z", "old"),
         (3, "2026-01-01T00:00:00Z", "only")]


def test_a_first_sync_keeps_the_newest_version_of_an_id_read_twice(pg, tmp_path):
    settings, dataset = pg
    _load(pg, tmp_path, FIRST)
    assert _names(pg) == {1: "new", 2: "new", 3: "only"}
    # the staging table was moved in: a fresh empty one is left for the next run
    assert pg_query(settings, f'select count(*) from "{dataset}_staging".deals') == [(0,)]

    _load(pg, tmp_path, [(2, "2026-01-04T00:00:00Z", "newer"), (4, "2026-01-04T00:00:00Z", "x"),
                         (2, "2026-01-02T00:00:00Z", "stale")])
    assert _names(pg) == {1: "new", 2: "newer", 3: "only", 4: "x"}


def test_a_full_refresh_replaces_what_was_there(pg, tmp_path):
    _load(pg, tmp_path, FIRST)
    _load(pg, tmp_path, [(5, "2026-02-01T00:00:00Z", "a"), (5, "2026-02-02T00:00:00Z", "b")],
          refresh="drop_sources")
    assert _names(pg) == {5: "b"}


def test_an_empty_raw_table_with_a_view_on_it_is_merged_and_keeps_the_view(pg, tmp_path):
    settings, dataset = pg
    _load(pg, tmp_path, [(9, "2026-01-01T00:00:00Z", "seed")])
    _execute(settings, f'create view "{dataset}".deals_v as select * from "{dataset}".deals;'
                       f'delete from "{dataset}".deals')
    _load(pg, tmp_path, FIRST)
    assert sorted(pg_query(settings, f'select id, name from "{dataset}".deals_v')) == [
        (1, "new"), (2, "new"), (3, "only")]


def test_a_first_sync_without_repeated_ids_loads_every_row(pg, tmp_path):
    _load(pg, tmp_path, [(i, "2026-01-01T00:00:00Z", f"n{i}") for i in range(1, 501)])
    assert _names(pg) == {i: f"n{i}" for i in range(1, 501)}
