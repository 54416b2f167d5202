"""The original scripts' interface: run_main_cli.sh (extract + build + export),
run from the installed cron entry, and update_domain_value/run_main_cli.sh."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Any

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTRACT = REPO_ROOT / "scripts" / "extract_crm_data"
UPDATE = REPO_ROOT / "scripts" / "update_domain_value" / "run_main_cli.sh"
FILE_CRONTAB = """#!/bin/sh
case "$1" in
  -l) [ -f "$CRONTAB_FILE" ] && cat "$CRONTAB_FILE" || exit 1 ;;
  -r) rm -f "$CRONTAB_FILE" ;;
  *) cat > "$CRONTAB_FILE" ;;
esac
"""


def test_cron_entry_runs_extract_build_and_export_with_a_log(world: Any, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_text(FILE_CRONTAB)
    crontab.chmod(0o755)
    database = tmp_path / "scheduled.duckdb"
    env = {
        **os.environ,
        "CRONTAB": str(crontab),
        "CRONTAB_FILE": str(tmp_path / "table"),
        "DUCKDB_PATH": str(database),
        "DLT_PIPELINES_DIR": str(tmp_path / "pipelines"),
    }
    out, log = tmp_path / "exports", tmp_path / "cron.log"
    installed = subprocess.run(
        [str(EXTRACT / "configure_cronjob.sh"), "--log", str(log), str(out)],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert installed.returncode == 0, installed.stderr
    line = (tmp_path / "table").read_text().strip()
    command = line.split(None, 5)[5]
    # What cron would do at 06:00: the line's command in /bin/sh, from another directory.
    done = subprocess.run(["/bin/sh", "-c", command], env=env, cwd="/", timeout=300)
    assert done.returncode == 0, log.read_text()[-3000:]

    text = log.read_text()
    assert "extract_crm_data: start" in text and "extract_crm_data: done" in text
    today = dt.datetime.now(dt.UTC).date().isoformat()
    names = {p.name for p in out.iterdir()}
    assert {f"{today}_deals.json", f"{today}_deals.csv", f"{today}_accounts.csv"} <= names
    with duckdb.connect(str(database), read_only=True) as con:
        deals = con.execute("select count(*) from marts.deals").fetchone()[0]
    with open(out / f"{today}_deals.csv", newline="") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == deals > 0


def test_run_main_cli_needs_an_output_path() -> None:
    done = subprocess.run([str(EXTRACT / "run_main_cli.sh")], capture_output=True, text=True)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_update_domain_value_script_takes_the_original_flags(world: Any) -> None:
    crm_id, deal_id = world.query("select id, deal_id from marts.deals order by id desc limit 1")[0]
    writes = len(world.writes())
    done = subprocess.run(
        [str(UPDATE), "--domain", "deals", "--key", "deal_id", "--value", str(deal_id),
         "--key-to-update", "deal_size", "--update-value", "24456", "--dry-run"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"deals {crm_id} (deal_id {deal_id})" in done.stdout
    assert '"amount": "24456.00"' in done.stdout and "nothing sent" in done.stdout
    assert len(world.writes()) == writes
    bad = subprocess.run([str(UPDATE), "--domain", "deals"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--key" in bad.stderr
