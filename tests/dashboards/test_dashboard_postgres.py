"""The dashboard on PostgreSQL, as a BI reader role would open it: the marts
built there from the same sandbox (under a schema prefix of its own) show the
same figures as on DuckDB, and what the role may not read says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import DEMO
from dbt_support import extract_postgres, pg_cursor, pg_settings, postgres_project
from streamlit.testing.v1 import AppTest
from test_dashboard_pages import APP, DATA_QUALITY, PAGES, metrics, open_page

from extract.sandbox import serve_in_thread


@pytest.fixture
def bi_reader(pg_prefix: str) -> Iterator[str]:
    """A login role of its own, dropped after the test."""
    role = f"{pg_prefix}bi_reader"
    with pg_cursor() as cur:
        cur.execute(f'create role "{role}" login')
    yield role
    with pg_cursor() as cur:
        cur.execute(f'drop owned by "{role}"')
        cur.execute(f'drop role "{role}"')


def shown(app: AppTest) -> dict[str, dict[str, str]]:
    figures = {}
    for page in PAGES[:-1]:
        open_page(app, page)
        figures[page] = metrics(app)
    return figures


def test_dashboard_on_postgres_as_the_bi_role(
    pg_prefix: str, bi_reader: str, marts_duckdb: Path, dashboard_env: Any, tmp_path: Path,
) -> None:
    with serve_in_thread(DEMO) as sandbox:
        extract_postgres(sandbox, f"{pg_prefix}raw", tmp_path / "pipelines")
    project = postgres_project(tmp_path / "dbt", pg_prefix)
    result = project.run("build", "--vars", f"{{bi_reader_role: {bi_reader}}}")
    assert "Completed successfully" in result.stdout

    dashboard_env(marts_duckdb)
    on_duckdb = shown(AppTest.from_file(APP, default_timeout=60).run())

    settings = pg_settings()
    dashboard_env(marts_duckdb, DBT_TARGET="postgres", DBT_SCHEMA_PREFIX=pg_prefix,
                  RAW_SCHEMA=f"{pg_prefix}raw", PGHOST=settings["host"],
                  PGPORT=str(settings["port"]), PGUSER=bi_reader, PGPASSWORD="",
                  PGDATABASE=settings["database"])
    app = AppTest.from_file(APP, default_timeout=60).run()
    on_postgres = shown(app)
    assert on_postgres == on_duckdb
    assert on_postgres[PAGES[0]]["Open deals"] != "–"
    # raw and intermediate are not the BI role's: the data quality page says so
    open_page(app, DATA_QUALITY)
    texts = [info.value for info in app.info]
    assert any("no permission" in text for text in texts), texts
