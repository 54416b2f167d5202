"""Fixtures of the dbt tests: a sandbox CRM extracted once into a DuckDB file,
and a schema prefix of its own on PostgreSQL."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# `pytest tests` does not put the repo root on sys.path (pyproject has no
# `pythonpath`); the extractor and the sandbox live there.
REPO_ROOT = str(Path(__file__).resolve().parents[2])
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from dbt_support import DbtProject, extract_duckdb, pg_cursor  # noqa: E402

from extract.sandbox import SandboxConfig, serve_in_thread  # noqa: E402

SANDBOX = SandboxConfig(seed=42, accounts=200, contacts=1000, deals=1500)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with serve_in_thread(SANDBOX) as running:
        yield running


@pytest.fixture(scope="module")
def raw_duckdb(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox extracted once by the real extractor; tests copy the file."""
    workdir = tmp_path_factory.mktemp("raw")
    path = workdir / "extracted.duckdb"
    extract_duckdb(sandbox, path, workdir / "pipelines")
    return path


@pytest.fixture(scope="module")
def built(raw_duckdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`dbt build` of a copy of the extracted file, once per preset."""
    cache: dict[str, tuple[DbtProject, Path]] = {}

    def build(preset: str) -> tuple[DbtProject, Path]:
        if preset not in cache:
            workdir = tmp_path_factory.mktemp(f"built_{preset}")
            path = workdir / "crm.duckdb"
            shutil.copy(raw_duckdb, path)
            project = DbtProject(workdir / "dbt", env={"DUCKDB_PATH": str(path)})
            result = project.run("build", "--vars", f"{{crm_preset: {preset}}}")
            assert "Completed successfully" in result.stdout
            cache[preset] = (project, path)
        return cache[preset]

    return build


@pytest.fixture
def pg_prefix(require_postgres: None) -> Iterator[str]:
    """A schema prefix of its own; every schema under it is dropped after."""
    prefix = f"test_dbt_{uuid.uuid4().hex[:8]}_"
    yield prefix
    with pg_cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname like %s",
                    (prefix.replace("_", r"\_") + "%",))
        for (schema,) in cur.fetchall():
            cur.execute(f'drop schema "{schema}" cascade')
