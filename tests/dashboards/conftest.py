"""Fixtures of the dashboard tests: the demo sandbox and an empty CRM, each
extracted by the real extractor and built by `dbt build` once per session,
with the helpers of the dbt tests (tests/dbt/dbt_support.py)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))

from dashboard_support import DEMO, EMPTY, build_marts  # noqa: E402
from dbt_support import pg_cursor  # noqa: E402


@pytest.fixture(scope="session")
def marts_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo CRM's marts in a DuckDB file (tests only read it)."""
    return build_marts(DEMO, tmp_path_factory.mktemp("dashboard_marts"))


@pytest.fixture(scope="session")
def empty_marts_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty CRM's marts: every mart exists with no row."""
    return build_marts(EMPTY, tmp_path_factory.mktemp("dashboard_empty"))


@pytest.fixture
def dashboard_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the dashboard at a DuckDB file, as `make dashboard` would with DUCKDB_PATH."""
    import streamlit as st

    def use(path: Path, **extra: str) -> None:
        monkeypatch.setenv("DUCKDB_PATH", str(path))
        monkeypatch.setenv("DBT_TARGET", "duckdb")
        for name in ("DBT_SCHEMA_PREFIX", "MARTS_SCHEMA", "RAW_SCHEMA"):
            monkeypatch.delenv(name, raising=False)
        for name, value in extra.items():
            monkeypatch.setenv(name, value)
        st.cache_data.clear()

    yield use
    st.cache_data.clear()


@pytest.fixture
def pg_prefix(require_postgres: None) -> Iterator[str]:
    """A schema prefix of its own on PostgreSQL; every schema under it is dropped after."""
    prefix = f"test_dash_{uuid.uuid4().hex[:8]}_"
    yield prefix
    with pg_cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname like %s",
                    (prefix.replace("_", r"\_") + "%",))
        for (schema,) in cur.fetchall():
            cur.execute(f'drop schema "{schema}" cascade')
