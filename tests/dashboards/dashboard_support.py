"""Helpers of the dashboard tests: the sandboxes and a build of their marts."""

from __future__ import annotations

from pathlib import Path

from dbt_support import DbtProject, extract_duckdb

from extract.sandbox import SandboxConfig, serve_in_thread

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
