"""What a user meets on the command line: messages, exit codes, locks, kill -9."""

from __future__ import annotations

import errno
import fcntl
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from extract_helpers import REPO_ROOT, cli_env, query, raw_rows, run_cli, sandbox

from extract.config import PgSettings
from extract.freshsales.client import ViewNotFound
from extract.pipeline import (
    BudgetStopped,
    DestinationUnavailable,
    LockHeld,
    explain,
    run_extract,
)

SECRET = "s3cr3t-token-never-printed"


_env = cli_env
_cli = run_cli


def test_cli_loads_the_crm_and_writes_a_json_summary(tmp_path):
    with sandbox() as sb:
        env = _env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key)
        summary_path = tmp_path / "out" / "summary.json"
        done = _cli(tmp_path, "--summary", str(summary_path), env=env)
        assert done.returncode == 0, done.stderr
        summary = json.loads(summary_path.read_text())
        assert summary["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]
        assert "deals" in done.stdout and "list requests" in done.stdout


def test_wrong_token_fails_with_one_clear_line_and_no_secret(tmp_path):
    with sandbox() as sb:
        env = _env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=SECRET)
        done = _cli(tmp_path, env=env)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "rejected the API token" in done.stderr
    assert "CRM_API_TOKEN" in done.stderr
    assert SECRET not in output
    assert "Traceback" not in output
    assert len(done.stderr.strip().splitlines()) == 1


def test_verbose_shows_the_traceback_but_still_not_the_token(tmp_path):
    with sandbox() as sb:
        env = _env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=SECRET)
        done = _cli(tmp_path, "--verbose", env=env)
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_unreachable_crm_gives_up_quickly_with_a_clear_message(tmp_path):
    env = _env(tmp_path, CRM_BASE_URL="http://127.0.0.1:9/crm/sales", CRM_API_TOKEN=SECRET,
               SOURCES__FRESHSALES__REQUEST_MAX_ATTEMPTS="2")
    done = _cli(tmp_path, env=env, timeout=60)
    assert done.returncode != 0
    assert "cannot reach the CRM at http://127.0.0.1:9/crm/sales" in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr


def test_demo_mode_without_crm_base_url(tmp_path):
    # empty = not set; it also hides a CRM in the repo's .env or .dlt/secrets.toml
    env = _env(tmp_path, CRM_BASE_URL="", CRM_API_TOKEN="",
               SOURCES__FRESHSALES__BASE_URL="", SOURCES__FRESHSALES__API_KEY="")
    done = _cli(tmp_path, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "DEMO data" in done.stderr and "CRM_BASE_URL" in done.stderr
    counts = query(tmp_path / "cli.duckdb", "select count(*) from raw.deals")[0][0]
    from extract.sandbox import SandboxConfig

    assert counts == SandboxConfig().deals


def test_missing_view_names_the_views_the_crm_has(run_duckdb):
    with sandbox(view_names={"sales_accounts:all": "Every Account"}) as sb:
        with pytest.raises(ViewNotFound, match="'All Accounts' not found.*'Every Account'"):
            run_duckdb(sb)


def test_a_second_run_refuses_while_the_first_holds_the_lock(run_duckdb, db_path):
    lock = db_path.with_name(db_path.name + ".lock")
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write("PID 4242 since test")
        handle.flush()
        with sandbox() as sb:
            with pytest.raises(LockHeld, match="another extract is running"):
                run_duckdb(sb)
    with sandbox() as sb:  # released: the next run goes ahead
        assert run_duckdb(sb)["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]


def test_duckdb_file_held_by_another_process(run_duckdb, db_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); time.sleep(60)", str(db_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with sandbox() as sb:
            with pytest.raises(DestinationUnavailable, match="in use by another process"):
                run_duckdb(sb)
    finally:
        holder.kill()
        holder.wait()


def test_postgres_unreachable_is_one_clear_line(tmp_path):
    with pytest.raises(DestinationUnavailable, match="cannot connect to PostgreSQL at"):
        run_extract(destination="postgres", base_url="http://127.0.0.1:9/crm/sales",
                    api_key=SECRET, pg_credentials=PgSettings(port=9, password="pw-secret"),
                    pipelines_dir=tmp_path / "p")


def test_a_load_out_of_duckdbs_memory_names_the_setting_and_the_next_run_converges(tmp_path):
    """The load runs under a small memory limit; a CRM whose rows need more
    must say what to raise, since the next run would meet the same limit."""
    setting = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"
    tiny = '{"memory_limit": "2MB", "threads": 1, "preserve_insertion_order": false}'
    with sandbox() as sb:
        env = _env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key,
                   **{setting: tiny})
        failed = _cli(tmp_path, env=env)
        assert failed.returncode != 0
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1, failed.stderr
        assert "Out of Memory" in lines[0]
        assert lines[0].endswith(f"raise memory_limit in {setting} (now 2MB)")
        assert "Traceback" not in failed.stdout + failed.stderr
        env.pop(setting)
        done = _cli(tmp_path, env=env)
        assert done.returncode == 0, done.stderr
    rows = query(tmp_path / "cli.duckdb", "select count(*) from raw.deals")
    assert rows == [(sb.state.gen.sizes["deals"],)]


def test_disk_full_is_explained():
    """ENOSPC deep inside a dlt step failure becomes one line (no small disk to fill here)."""
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/data/x.parquet")
        except OSError as error:
            raise RuntimeError("Pipeline execution failed at step=normalize") from error
    except RuntimeError as failure:
        message = explain(failure) or ""
    assert message.startswith("disk full while writing /data/x.parquet")


def _clean_copy(tmp_path: Path, sb: Any) -> Path:
    clean = tmp_path / "clean.duckdb"
    run_extract(base_url=sb.base_url, api_key=sb.api_key, duckdb_path=clean,
                pipelines_dir=tmp_path / "clean-pipelines")
    return clean


COLUMNS = "updated_at, is_deleted, created_at"


@pytest.mark.parametrize("kill_at", ["mid-extract", "extracted", "normalized"])
def test_kill_9_then_rerun_equals_a_clean_run(tmp_path, kill_at):
    options: dict[str, Any] = {"accounts": 40, "contacts": 150, "deals": 300}
    if kill_at == "mid-extract":
        options["latency_ms"] = 300
    with sandbox(**options) as sb:
        env = _env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key)
        if kill_at == "mid-extract":
            proc = subprocess.Popen(
                [sys.executable, "-m", "extract", "run", "--quiet", "--concurrency", "1",
                 "--pipelines-dir", str(tmp_path / "pipelines")], cwd=REPO_ROOT, env=env)
            deadline = time.monotonic() + 60
            while not (tmp_path / "pipelines").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.5)  # requests are under way now (300 ms each)
            assert proc.poll() is None, "the run ended before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        else:
            done = _cli(tmp_path, "--quiet", env={**env, "CRM_EXTRACT_TEST_KILL_AT": kill_at})
            assert done.returncode == -signal.SIGKILL
        rerun = _cli(tmp_path, "--summary", str(tmp_path / "s.json"), env=env)
        assert rerun.returncode == 0, rerun.stderr
        summary = json.loads((tmp_path / "s.json").read_text())
        if kill_at == "normalized":
            assert summary["pending_packages_finished"] == 1
        clean = _clean_copy(tmp_path, sb)
    killed = tmp_path / "cli.duckdb"
    for table in ("sales_accounts", "contacts", "deals"):
        assert raw_rows(killed, table, COLUMNS) == raw_rows(clean, table, COLUMNS), table
        rows, ids = query(killed, f"select count(*), count(distinct id) from raw.{table}")[0]
        assert rows == ids


def test_rate_limit_give_up_then_the_next_run_completes(run_duckdb, db_path):
    with sandbox(rate_limit=5, accounts=20, contacts=50, deals=80) as sb:
        with pytest.raises(BudgetStopped, match="stopped on the CRM's request budget after "
                           r"\d+ requests; .*the next run continues \(budget resets in"):
            run_duckdb(sb, max_wait_s=0.01)
        summary = run_duckdb(sb)
        assert summary["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]


def test_filesystem_destination_writes_parquet_then_syncs_incrementally(tmp_path):
    """`--destination filesystem` (the Spark path): one Parquet file per table and
    sync, the same record counts as the sandbox, and a no-change sync that reads
    one page per view and adds no deal file."""
    import duckdb

    out = tmp_path / "raw_parquet"
    with sandbox() as sb:
        env = _env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key,
                   RAW_PARQUET_URL=str(out))
        summaries = []
        for run in ("first", "second"):
            summary_path = tmp_path / f"{run}.json"
            done = _cli(tmp_path, "--destination", "filesystem", "--summary",
                        str(summary_path), env=env)
            assert done.returncode == 0, done.stderr
            summaries.append(json.loads(summary_path.read_text()))
        sizes = sb.state.gen.sizes
    deal_files = sorted((out / "raw" / "deals").glob("*.parquet"))
    assert len(deal_files) == 1
    with duckdb.connect() as con:
        (ids,) = con.execute(
            f"select count(distinct id) from read_parquet('{out}/raw/deals/*.parquet')"
        ).fetchone()
    assert ids == sizes["deals"] == summaries[0]["raw_counts"]["deals"]
    assert summaries[1]["raw_counts"]["deals"] == sizes["deals"]
    assert all(n == 1 for n in summaries[1]["list_requests"].values()), summaries[1]


def test_unwritable_parquet_folder_is_one_clear_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with sandbox() as sb:
        env = _env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key,
                   RAW_PARQUET_URL=str(blocker / "raw_parquet"))
        done = _cli(tmp_path, "--destination", "filesystem", env=env)
    assert done.returncode != 0
    assert "RAW_PARQUET_URL" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_progress_lines_show_in_a_log_while_a_long_run_moves(tmp_path):
    """Not a terminal (cron, CI): a line per view at intervals, not a rewritten line."""
    with sandbox(latency_ms=40, deals=1500) as sb:
        env = _env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key,
                   CRM_PROGRESS_INTERVAL_S="0.3")
        done = _cli(tmp_path, "--concurrency", "1", env=env)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("progress ")]
    assert any(re.fullmatch(r"progress \d+s deals/All Deals: page \d+ of 15", line)
               for line in lines), done.stderr
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr
