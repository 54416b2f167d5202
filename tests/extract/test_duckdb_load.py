"""The DuckDB destination's first full sync (extract/duckdb_load.py) on a real
DuckDB file: it keeps dlt's merge result (one row per id, the newest version)
whether a file goes straight into the empty raw table or through staging and
dlt's merge (rows already there, or a second file of the same table)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb as duckdb_lib
import pyarrow as pa
import pytest

from extract.config import duckdb_config
from extract.duckdb_load import duckdb

COLUMNS: Any = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    "updated_at": {"data_type": "timestamp", "dedup_sort": "desc"},
    "name": {"data_type": "text"},
}

# id 1 read from two views in one run, newest last; id 2 newest first
FIRST = [(1, "2026-01-01T00:00:00Z", "old"), (2, "2026-01-03T00:00:00Z", "new"),
         (1, "2026-01-02T00:00:00Z", "new"), (2, "2026-01-01T00:00:00Z", "old"),
         (3, "2026-01-01T00:00:00Z", "only")]


def _page(versions: list[tuple[int, str, str]]) -> pa.Table:
    """One Arrow page, as the extractor yields them (no _dlt_id column)."""
    ids, stamps, names = zip(*versions, strict=True)
    return pa.table({"id": pa.array(ids, pa.int64()),
                     "updated_at": pa.array([datetime.fromisoformat(t) for t in stamps],
                                            pa.timestamp("us", "UTC")),
                     "name": pa.array(names, pa.string())})


def _pages(versions: list[tuple[int, str, str]], per_page: int) -> Iterator[pa.Table]:
    for start in range(0, len(versions), per_page):
        yield _page(versions[start:start + per_page])


def _load(path: Path, tmp_path: Path, versions: list[tuple[int, str, str]],
          per_page: int | None = None, **run: Any) -> dlt.Pipeline:
    pipeline = dlt.pipeline(pipeline_name="duckload", dataset_name="raw",
                            destination=duckdb(str(path)),
                            pipelines_dir=str(tmp_path / "pipelines"))
    resource = dlt.resource(_pages(versions, per_page or len(versions)), name="deals",
                            primary_key="id", columns=COLUMNS,
                            write_disposition={"disposition": "merge",
                                               "strategy": "delete-insert"})
    pipeline.run(resource, loader_file_format="parquet", **run)
    return pipeline


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = duckdb_lib.connect(str(path), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _names(path: Path) -> dict[int, str]:
    """id -> name of the raw table; fails on an id stored twice."""
    rows = _query(path, "select id, name from raw.deals")
    assert len(rows) == len({r[0] for r in rows}), rows
    return dict(rows)


def _files(pipeline: dlt.Pipeline) -> int:
    """Parquet files of the deals table in the last load package."""
    info = pipeline.last_trace.last_load_info
    assert info is not None
    jobs = info.load_packages[0].jobs["completed_jobs"]
    return sum(1 for j in jobs
               if j.job_file_info.table_name == "deals" and j.file_path.endswith(".parquet"))


def test_a_first_sync_keeps_the_newest_version_of_an_id_read_twice(tmp_path):
    path = tmp_path / "crm.duckdb"
    _load(path, tmp_path, FIRST)
    assert _names(path) == {1: "new", 2: "new", 3: "only"}
    # nothing went through staging: the rows were written once
    assert _query(path, "select count(*) from raw_staging.deals") == [(0,)]

    _load(path, tmp_path, [(2, "2026-01-04T00:00:00Z", "newer"),
                           (4, "2026-01-04T00:00:00Z", "x"),
                           (2, "2026-01-02T00:00:00Z", "stale")])
    assert _names(path) == {1: "new", 2: "newer", 3: "only", 4: "x"}


def test_a_second_file_of_the_same_table_is_merged_over_the_first(tmp_path, monkeypatch):
    """The first file goes straight in; the next ones find rows there and are
    merged by dlt, later versions of an id in any file included."""
    monkeypatch.setenv("EXTRACT__DATA_WRITER__FILE_MAX_ITEMS", "2")
    monkeypatch.setenv("DATA_WRITER__FILE_MAX_ITEMS", "2")
    path = tmp_path / "crm.duckdb"
    versions = [(1, "2026-01-01T00:00:00Z", "a1"), (2, "2026-01-01T00:00:00Z", "b1"),
                (1, "2026-01-05T00:00:00Z", "a2"), (3, "2026-01-01T00:00:00Z", "c1"),
                (2, "2026-01-04T00:00:00Z", "b2"), (4, "2026-01-01T00:00:00Z", "d1")]
    pipeline = _load(path, tmp_path, versions, per_page=2)
    assert _files(pipeline) > 1
    assert _names(path) == {1: "a2", 2: "b2", 3: "c1", 4: "d1"}


def test_a_full_refresh_replaces_what_was_there(tmp_path):
    path = tmp_path / "crm.duckdb"
    _load(path, tmp_path, FIRST)
    _load(path, tmp_path, [(5, "2026-02-01T00:00:00Z", "a"), (5, "2026-02-02T00:00:00Z", "b")],
          refresh="drop_sources")
    assert _names(path) == {5: "b"}


def test_a_first_sync_without_repeated_ids_loads_every_row_and_keeps_the_memory_limit(
        tmp_path):
    """After the straight load the connection has the memory limit dlt's merge
    path leaves."""
    path = tmp_path / "crm.duckdb"
    conn = duckdb_lib.connect(str(path))
    try:
        pipeline = dlt.pipeline(pipeline_name="duckload", dataset_name="raw",
                                destination=duckdb(conn),
                                pipelines_dir=str(tmp_path / "pipelines"))

        def run(first: int) -> str:
            pipeline.run(dlt.resource(
                [_page([(i, "2026-01-01T00:00:00Z", f"n{i}") for i in range(first, 501)])],
                name="deals", primary_key="id", columns=COLUMNS,
                write_disposition={"disposition": "merge", "strategy": "delete-insert"}),
                loader_file_format="parquet")
            return conn.execute("select current_setting('memory_limit')").fetchone()[0]

        straight = run(1)
        assert conn.execute("select count(*), count(distinct id) from raw.deals").fetchone() \
            == (500, 500)
        merged = run(250)  # rows there: dlt's merge
        assert straight == merged
        assert conn.execute("select count(*), count(distinct id) from raw.deals").fetchone() \
            == (500, 500)
    finally:
        conn.close()


@pytest.mark.parametrize("rows_there", [False, True])
def test_an_empty_or_filled_raw_table_ends_with_the_same_rows(tmp_path, rows_there):
    """The same two syncs give the same table whichever way the second went."""
    path = tmp_path / "crm.duckdb"
    _load(path, tmp_path, [(9, "2026-01-01T00:00:00Z", "seed")])
    if not rows_there:
        conn = duckdb_lib.connect(str(path))
        conn.execute("delete from raw.deals")
        conn.close()
    _load(path, tmp_path, FIRST)
    expected = {1: "new", 2: "new", 3: "only"}
    assert _names(path) == (expected if not rows_there else {**expected, 9: "seed"})


def test_a_first_sync_of_three_million_ids_loads_under_the_memory_limit(tmp_path):
    """The sales activities of a 1,000,000-deal first sync are 3,000,000 rows.
    The repeated-id check after the straight insert must spill, not run out of
    the load's memory limit (count(DISTINCT id) did, and the run failed)."""
    import extract.defaults  # noqa: F401 (sets the limit, as for every run)

    assert "memory_limit" in os.environ["DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"]
    n = 3_000_000
    page = pa.table({"id": pa.array(range(1, n + 1), pa.int64()),
                     "updated_at": pa.array([datetime(2026, 1, 1)] * n, pa.timestamp("us", "UTC")),
                     # as wide as those rows: the load holds them in memory
                     "name": pa.array([f"{i:060d}" for i in range(n)], pa.string())})
    path = tmp_path / "crm.duckdb"
    # the file as the extractor creates it (1.x-readable format), where
    # count(DISTINCT id) ran out of memory
    duckdb_lib.connect(str(path), config=duckdb_config()).close()
    pipeline = dlt.pipeline(pipeline_name="duckload", dataset_name="raw",
                            destination=duckdb(str(path)),
                            pipelines_dir=str(tmp_path / "pipelines"))
    pipeline.run(dlt.resource([page], name="deals", primary_key="id", columns=COLUMNS,
                              write_disposition={"disposition": "merge",
                                                 "strategy": "delete-insert"}),
                 loader_file_format="parquet")
    assert _query(path, "select count(*), count(distinct id) from raw.deals") == [(n, n)]
    assert _query(path, "select count(*) from raw_staging.deals") == [(0,)]
