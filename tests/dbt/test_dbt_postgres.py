"""The same project on PostgreSQL gives the same mart contents as on DuckDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from dbt_support import extract_postgres, mart_rows, pg_cursor, postgres_project

# The sales marts (issue 14) and their keys; the snapshot behind
# deal_stage_history and pipeline_daily runs on both engines.
SALES_MART_KEYS = {
    "deals_enhanced": "id",
    "deal_stage_history": "deal_crm_id, visit_number",
    "pipeline_daily": "date_day, deal_pipeline_id, deal_stage",
    "owner_performance": "owner_id, month_start",
    "sales_snapshot": "as_of_date",
    "account_overview": "id",
}


def sales_mart_rows(fetch: Any, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    return {mart: fetch(f"select * from {schema}.{mart} order by {keys}")
            for mart, keys in SALES_MART_KEYS.items()}


def test_postgres_marts_equal_duckdb_marts(
    sandbox: Any, built: Any, pg_prefix: str, tmp_path: Path,
) -> None:
    extract_postgres(sandbox, f"{pg_prefix}raw", tmp_path / "pipelines")
    project = postgres_project(tmp_path / "dbt", pg_prefix)
    result = project.run("build")
    assert "Completed successfully" in result.stdout

    with pg_cursor() as cur:
        def fetch(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            return cur.fetchall()

        postgres = mart_rows(fetch, f"{pg_prefix}marts")
        postgres.update(sales_mart_rows(fetch, f"{pg_prefix}marts"))
        cur.execute(
            "select count(*) from pg_constraint where contype = 'f'"
            " and conrelid = %s::regclass", (f"{pg_prefix}marts.deals",))
        foreign_keys = cur.fetchone()[0]

    _, path = built("original")
    with duckdb.connect(str(path), read_only=True) as con:
        duck = mart_rows(lambda sql: con.execute(sql).fetchall(), "marts")
        duck.update(sales_mart_rows(lambda sql: con.execute(sql).fetchall(), "marts"))

    assert foreign_keys == 1  # enforced on PostgreSQL (a data test on DuckDB)
    for mart, expected in duck.items():
        assert expected, f"{mart} is empty on DuckDB"
        assert postgres[mart] == expected, f"{mart} differs between DuckDB and PostgreSQL"
