"""The same project on PostgreSQL gives the same mart contents as on DuckDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
from dbt_support import DbtProject, mart_rows, pg_settings


@pytest.fixture
def pg_prefix(require_postgres: None) -> Iterator[str]:
    """A schema prefix of its own; every schema under it is dropped after."""
    prefix = f"test_dbt_{uuid.uuid4().hex[:8]}_"
    yield prefix
    settings = pg_settings()
    with psycopg2.connect(
        host=settings["host"], port=settings["port"], user=settings["user"],
        password=settings["password"], dbname=settings["database"],
    ) as conn, conn.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname like %s",
                    (prefix.replace("_", r"\_") + "%",))
        for (schema,) in cur.fetchall():
            cur.execute(f'drop schema "{schema}" cascade')


def test_postgres_marts_equal_duckdb_marts(
    sandbox: Any, built: Any, pg_prefix: str, tmp_path: Path,
) -> None:
    from extract.pipeline import run_extract

    settings = pg_settings()
    run_extract(
        destination="postgres", base_url=sandbox.base_url, api_key=sandbox.api_key,
        dataset=f"{pg_prefix}raw", pg_credentials=settings,
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    project = DbtProject(tmp_path / "dbt", env={
        "DBT_TARGET": "postgres", "DBT_SCHEMA_PREFIX": pg_prefix,
        "RAW_SCHEMA": f"{pg_prefix}raw",
        "PGHOST": settings["host"], "PGPORT": str(settings["port"]),
        "PGUSER": settings["user"], "PGPASSWORD": settings["password"],
        "PGDATABASE": settings["database"],
    })
    result = project.run("build")
    assert "Completed successfully" in result.stdout

    with psycopg2.connect(
        host=settings["host"], port=settings["port"], user=settings["user"],
        password=settings["password"], dbname=settings["database"],
    ) as conn, conn.cursor() as cur:
        def fetch(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            return cur.fetchall()

        postgres = mart_rows(fetch, f"{pg_prefix}marts")
        cur.execute(
            "select count(*) from pg_constraint where contype = 'f'"
            " and conrelid = %s::regclass", (f"{pg_prefix}marts.deals",))
        foreign_keys = cur.fetchone()[0]

    _, path = built("original")
    with duckdb.connect(str(path), read_only=True) as con:
        duck = mart_rows(lambda sql: con.execute(sql).fetchall(), "marts")

    assert foreign_keys == 1  # enforced on PostgreSQL (a data test on DuckDB)
    for mart, expected in duck.items():
        assert expected, f"{mart} is empty on DuckDB"
        assert postgres[mart] == expected, f"{mart} differs between DuckDB and PostgreSQL"
