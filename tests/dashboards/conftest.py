"""Fixtures of the dashboard tests: the demo sandbox and an empty CRM, each
extracted by the real extractor and built by `dbt build` once per session,
with the helpers of the dbt tests (tests/dbt/dbt_support.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))

from dbt_support import DbtProject, extract_duckdb  # noqa: E402

from extract.sandbox import SandboxConfig, serve_in_thread  # noqa: E402

DEMO = SandboxConfig(seed=42, accounts=200, contacts=1000, deals=1500)
EMPTY = SandboxConfig(seed=42, accounts=0, contacts=0, deals=0)


def build_marts(config: SandboxConfig, workdir: Path) -> Path:
    """The sandbox extracted into workdir/crm.duckdb, then `dbt build` on it."""
    path = workdir / "crm.duckdb"
    with serve_in_thread(config) as sandbox:
        extract_duckdb(sandbox, path, workdir / "pipelines")
    result = DbtProject(workdir / "dbt", env={"DUCKDB_PATH": str(path)}).run("build")
    assert "Completed successfully" in result.stdout
    return path


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
