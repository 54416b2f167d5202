"""Empty is valid: a CRM with no account, contact or deal extracts to raw
entity tables with their declared columns and no rows, and `dbt build`
passes with every mart empty, on DuckDB and on PostgreSQL. A second build
on empty raw passes too, and deal_aggregations is right once data arrives."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_support import (
    AGGREGATIONS,
    ENTITY_MART,
    MART_KEYS,
    DbtProject,
    aggregations_from_deals,
    extract_duckdb,
    extract_postgres,
    pg_cursor,
    postgres_project,
    rows,
)

from extract.sandbox import SandboxConfig, serve_in_thread

EMPTY = SandboxConfig(seed=42, accounts=0, contacts=0, deals=0)
ENTITIES = tuple(ENTITY_MART)
# Selector lists are not entities: an empty CRM still has them.
SELECTORS = ("territories", "industry_types", "lead_sources", "deal_stages")
# users come from the owners list, which an empty CRM still has.
MARTS = tuple(mart for mart in MART_KEYS if mart != "users")
VANILLA = ("--vars", "{crm_preset: vanilla}")
# The sales marts with a row per deal, visit, day, owner month or account.
SALES_MARTS = ("deals_enhanced", "deal_stage_history", "pipeline_daily", "owner_performance",
               "account_overview")

Fetch = Callable[[str], list[tuple[Any, ...]]]


def row_counts(fetch: Fetch, schema: str, tables: Iterable[str]) -> dict[str, int]:
    return {table: fetch(f"select count(*) from {schema}.{table}")[0][0] for table in tables}


def assert_empty_crm_built(fetch: Fetch, prefix: str = "") -> None:
    raw = row_counts(fetch, f"{prefix}raw", ENTITIES + SELECTORS)
    assert {table: raw[table] for table in ENTITIES} == dict.fromkeys(ENTITIES, 0)
    assert all(raw[table] > 0 for table in SELECTORS), raw
    assert row_counts(fetch, f"{prefix}marts", MARTS) == dict.fromkeys(MARTS, 0)


@pytest.fixture(scope="module")
def empty_sandbox() -> Iterator[Any]:
    with serve_in_thread(EMPTY) as running:
        yield running


@pytest.fixture(scope="module")
def empty_duckdb(empty_sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The empty CRM extracted and built once (original preset)."""
    workdir = tmp_path_factory.mktemp("empty")
    path = workdir / "crm.duckdb"
    extract_duckdb(empty_sandbox, path, workdir / "pipelines")
    result = DbtProject(workdir / "dbt", env={"DUCKDB_PATH": str(path)}).run("build")
    assert "Completed successfully" in result.stdout
    return path


def test_empty_crm_builds_empty_marts_on_duckdb(empty_duckdb: Path) -> None:
    with duckdb.connect(str(empty_duckdb), read_only=True) as con:
        assert_empty_crm_built(lambda sql: rows(con, sql))


def test_empty_crm_builds_empty_sales_marts_and_a_zero_sales_snapshot(
    empty_duckdb: Path,
) -> None:
    """No deal: the sales marts and the snapshot hold no row, and
    sales_snapshot's one row says nothing is open or won, with empty (NULL)
    win rates rather than 0 or an error."""
    with duckdb.connect(str(empty_duckdb), read_only=True) as con:
        counts = row_counts(lambda sql: rows(con, sql), "marts", SALES_MARTS)
        snapshot_rows = rows(con, "select count(*) from snapshots.deals_snapshot")
        funnel = rows(con, """
            select deal_count, open_deal_count, open_pipeline_value, won_deal_count,
                bookings, win_rate, win_rate_this_month
            from marts.sales_snapshot""")
    assert counts == dict.fromkeys(SALES_MARTS, 0)
    assert snapshot_rows == [(0,)]
    assert funnel == [(0, 0, Decimal("0.00"), 0, Decimal("0.00"), None, None)]


def test_deal_aggregations_after_empty_builds_follow_the_deals(
    empty_duckdb: Path, sandbox: Any, tmp_path: Path,
) -> None:
    """A second build on empty raw passes; then records arrive (the extractor
    merges the sandbox of conftest.py into the same raw) and the next build's
    deal_aggregations equals the sums of the deals mart. These builds use the
    vanilla preset, so each preset meets empty raw."""
    path = tmp_path / "crm.duckdb"
    shutil.copy(empty_duckdb, path)
    project = DbtProject(tmp_path / "dbt", env={"DUCKDB_PATH": str(path)})
    project.run("build", *VANILLA)
    with duckdb.connect(str(path), read_only=True) as con:
        assert_empty_crm_built(lambda sql: rows(con, sql))
    extract_duckdb(sandbox, path, tmp_path / "pipelines")
    project.run("build", *VANILLA)
    with duckdb.connect(str(path), read_only=True) as con:
        built = rows(con, AGGREGATIONS)
        expected = rows(con, aggregations_from_deals("UTC"))
    assert built, "no deal_aggregations after the records arrived"
    assert built == expected


def test_empty_crm_builds_empty_marts_on_postgres(
    empty_sandbox: Any, pg_prefix: str, tmp_path: Path,
) -> None:
    """As on DuckDB; a second build of deal_aggregations and what follows
    it passes on the empty marts too."""
    extract_postgres(empty_sandbox, f"{pg_prefix}raw", tmp_path / "pipelines")
    project = postgres_project(tmp_path / "dbt", pg_prefix)
    for args in ((), ("--select", "deal_aggregations+")):
        result = project.run("build", *args)
        assert "Completed successfully" in result.stdout
        with pg_cursor() as cur:
            def fetch(sql: str) -> list[tuple[Any, ...]]:
                cur.execute(sql)
                return cur.fetchall()

            assert_empty_crm_built(fetch, pg_prefix)
