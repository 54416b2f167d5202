"""`python -m extract run` leaves the CRM's data readable by its owner only, even
when started with a permissive umask (022) and when the DuckDB file existed as 0644."""

from __future__ import annotations

import shlex
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
from extract_helpers import REPO_ROOT, cli_env, raw_rows, sandbox


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run_with_umask_022(tmp_path: Path, env: dict[str, str], *args: str,
                        ) -> subprocess.CompletedProcess[str]:
    """`extract run` from a shell whose umask is 022; `control` is a file that
    shell creates first, to show what that umask gives without the extractor."""
    command = shlex.join([sys.executable, "-m", "extract", "run", "--quiet",
                          "--pipelines-dir", str(tmp_path / "pipelines"), *args])
    control = shlex.quote(str(tmp_path / "control"))
    return subprocess.run(["sh", "-c", f"umask 022; : > {control}; exec {command}"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=180, check=False)


def _loose(root: Path) -> list[str]:
    """Files and folders under `root` that the group or others may read."""
    return [f"{p} {oct(_mode(p))}" for p in [root, *root.rglob("*")]
            if not p.is_symlink() and _mode(p) & 0o077]


def test_a_new_duckdb_file_and_dlts_folder_are_private(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    summary = tmp_path / "reports" / "summary.json"
    with sandbox() as sb:
        env = cli_env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key)
        done = _run_with_umask_022(tmp_path, env, "--summary", str(summary))
    assert done.returncode == 0, done.stderr
    assert _mode(tmp_path / "control") == 0o644  # the shell's umask really was 022

    assert len(raw_rows(db, "deals", "id")) == 730
    assert _mode(db) == 0o600
    wal = db.with_name(db.name + ".wal")
    assert not wal.exists() or _mode(wal) == 0o600
    assert _mode(summary) == 0o600
    assert _mode(summary.parent) == 0o700
    assert _mode(tmp_path / "pipelines") == 0o700
    assert _loose(tmp_path / "pipelines") == []
    assert [p.name for p in tmp_path.iterdir() if p.is_file() and _mode(p) & 0o077] == [
        "control"]


def test_an_existing_world_readable_duckdb_file_becomes_private(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table kept as select 42 as answer")
    db.chmod(0o644)
    with sandbox() as sb:
        env = cli_env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key)
        done = _run_with_umask_022(tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert _mode(db) == 0o600
    assert len(raw_rows(db, "deals", "id")) == 730
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select answer from kept").fetchall() == [(42,)]

