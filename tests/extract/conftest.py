"""Fixtures of the extractor tests: own DuckDB file, dlt folder and Postgres schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from extract.config import PgSettings, pg_settings
from extract.pipeline import run_extract


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "crm.duckdb"


@pytest.fixture
def run_duckdb(tmp_path: Path, db_path: Path) -> Callable[..., dict[str, Any]]:
    """run_extract into this test's own DuckDB file and dlt working folder."""

    def run(sb: Any, **kwargs: Any) -> dict[str, Any]:
        options: dict[str, Any] = dict(
            destination="duckdb", base_url=sb.base_url, api_key=sb.api_key,
            duckdb_path=db_path, pipelines_dir=tmp_path / "pipelines",
        )
        options.update(kwargs)
        return run_extract(**options)

    return run


@pytest.fixture
def pg(require_postgres: None) -> Iterator[tuple[PgSettings, str]]:
    """PostgreSQL settings and a dataset name of this test, dropped afterwards."""
    import psycopg2

    settings = pg_settings(dict(os.environ))
    dataset = f"raw_test_{uuid.uuid4().hex[:10]}"
    yield settings, dataset
    conn = psycopg2.connect(host=settings.host, port=settings.port, user=settings.user,
                            password=settings.password or None, dbname=settings.database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop schema if exists "{dataset}" cascade')
        cur.execute(f'drop schema if exists "{dataset}_staging" cascade')
    conn.close()
