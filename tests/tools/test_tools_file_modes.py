"""What the tools, the Makefile and the cron script write is readable by its owner
only (files 0600, folders 0700), even when started with a permissive umask (022);
and the write-back tools refuse to send the API token over plain http to another host."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from export_helpers import export_day as _day

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok3n-that-must-never-be-printed"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _loose(root: Path) -> list[str]:
    """Files and folders under `root` that the group or others may read."""
    return [f"{p} {oct(_mode(p))}" for p in [root, *root.rglob("*")]
            if not p.is_symlink() and _mode(p) & 0o077]


def _with_umask_022(tmp_path: Path, command: str, env: dict[str, str], cwd: Path = REPO_ROOT,
                    timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`command` in a shell whose umask is 022; that shell first creates `control`,
    to show what the umask gives on its own."""
    control = shlex.quote(str(tmp_path / "control"))
    done = subprocess.run(["/bin/sh", "-c", f"umask 022; : > {control}; {command}"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert _mode(tmp_path / "control") == 0o644
    return done


def _cli(*args: str) -> str:
    return "exec " + shlex.join([sys.executable, "-m", "extract", *args])


# ------------------------------------------------------------------ export


def test_export_files_are_private_under_a_permissive_umask(world: Any, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    done = _with_umask_022(
        tmp_path, _cli("export", "--out", str(out), "--format", "json,csv,parquet"),
        dict(os.environ))
    assert done.returncode == 0, done.stderr
    files = sorted(out.iterdir())
    assert {p.suffix for p in files} == {".json", ".csv", ".parquet"}
    assert f"{_day(out)}_deals.csv" in {p.name for p in files}
    assert {p.name: oct(_mode(p)) for p in files} == {p.name: "0o600" for p in files}
    assert _mode(out) == 0o700


def test_export_over_world_readable_files_leaves_them_private(world: Any, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    out.mkdir(mode=0o755)
    out.chmod(0o755)
    # the files today's export overwrites (a run at midnight could miss them)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    old = out / f"{today}_accounts.csv"
    old.write_text("stale\n")
    old.chmod(0o644)
    stale_part = out / f"{today}_accounts.json.part"
    stale_part.write_text("left by a killed run\n")
    stale_part.chmod(0o666)
    done = _with_umask_022(
        tmp_path, _cli("export", "--out", str(out), "--tables", "accounts",
                       "--format", "csv,json"), dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        f"{today}_accounts.csv", f"{today}_accounts.json"]
    assert _mode(old) == 0o600 and old.read_text() != "stale\n"
    assert _mode(out / f"{today}_accounts.json") == 0o600
    assert _mode(out) == 0o755  # a folder the user made keeps the mode they gave it


def test_export_from_python_is_private_whatever_the_umask(world: Any, tmp_path: Path) -> None:
    from extract.tools.export import export

    previous = os.umask(0o022)
    try:
        written = export(tmp_path / "py", ["csv", "parquet"], tables=["deals"])
    finally:
        os.umask(previous)
    assert [oct(_mode(p)) for p in written] == ["0o600", "0o600"]


# ------------------------------------------------------------------ make and cron


def test_make_build_writes_dbts_target_and_logs_privately(world: Any, tmp_path: Path) -> None:
    database = tmp_path / "copy.duckdb"
    shutil.copy(world.duckdb_path, database)
    target, logs = tmp_path / "dbt_target", tmp_path / "dbt_logs"
    env = {**os.environ, "DUCKDB_PATH": str(database), "DBT_TARGET_PATH": str(target),
           "DBT_LOG_PATH": str(logs)}
    # -o: take `setup` (the venv and profiles.yml) as done; this test runs no pip.
    command = "exec make --no-print-directory -o .venv/.installed -o profiles.yml build"
    done = _with_umask_022(tmp_path, command, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert (target / "manifest.json").is_file() and (logs / "dbt.log").is_file()
    assert _loose(target) == []
    assert _loose(logs) == []


def test_cron_run_writes_everything_privately(world: Any, tmp_path: Path) -> None:
    database, out = tmp_path / "scheduled.duckdb", tmp_path / "exports"
    target, logs, log = tmp_path / "dbt_target", tmp_path / "dbt_logs", tmp_path / "cron.log"
    env = {**os.environ, "DUCKDB_PATH": str(database),
           "DLT_PIPELINES_DIR": str(tmp_path / "pipelines"),
           "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(logs),
           "CRONTAB": "/bin/true"}
    installed = subprocess.run(
        [str(REPO_ROOT / "scripts" / "extract_crm_data" / "configure_cronjob.sh"),
         "--log", str(log), str(out)], env=env, capture_output=True, text=True, timeout=30)
    assert installed.returncode == 0, installed.stderr
    line = installed.stdout.strip().removeprefix("installed: ")
    command = line.split(None, 5)[5]  # what cron hands to /bin/sh
    done = _with_umask_022(tmp_path, command, env, cwd=Path("/"))
    assert done.returncode == 0, log.read_text()[-3000:]
    assert "extract_crm_data: done" in log.read_text()
    assert _mode(log) == 0o600
    assert _mode(database) == 0o600
    assert f"{_day(out)}_deals.csv" in {p.name for p in out.iterdir()}
    for folder in (out, target, logs, tmp_path / "pipelines"):
        assert _loose(folder) == []


# ------------------------------------------------------------------ write-back over http


def test_write_back_refuses_plain_http_to_a_remote_host(world: Any, tmp_path: Path) -> None:
    (deal_id,), = world.query("select deal_id from marts.deals order by id limit 1")
    audit_before = world.audit_log.read_text() if world.audit_log.exists() else None
    calls = len(world.calls)
    env = {**os.environ, "CRM_BASE_URL": "http://crm.example.com/crm/sales",
           "CRM_API_TOKEN": TOKEN}
    env.pop("CRM_ALLOW_INSECURE_HTTP", None)
    done = subprocess.run(
        [sys.executable, "-m", "extract", "update-value", "--domain", "deals", "--key",
         "deal_id", "--value", str(deal_id), "--key-to-update", "deal_size",
         "--update-value", "12345.67", "--yes"],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "error: CRM_BASE_URL is plain http:// to crm.example.com, which would send the API "
        "token in clear text; use https:// (http is accepted only for localhost, 127.0.0.1 "
        "and ::1, or with CRM_ALLOW_INSECURE_HTTP=1)"
    ]
    assert TOKEN not in done.stdout + done.stderr
    assert len(world.calls) == calls
    assert (world.audit_log.read_text() if world.audit_log.exists() else None) == audit_before
