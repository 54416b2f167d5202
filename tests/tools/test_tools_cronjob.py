"""configure_cronjob.sh: one entry, idempotent, removable, with a log and a lock.

Runs against a file-backed crontab command (CRONTAB override) and, when the
Debian `crontab` is installed and we are root, against the real crontab of
the unprivileged user `nobody` (restored afterwards), never root's own.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = REPO_ROOT / "scripts" / "extract_crm_data" / "configure_cronjob.sh"
MARKER = "# crm_management:extract_crm_data"
NEVER = "0 6 31 2 *"  # 31 February: valid, and never fires

FILE_CRONTAB = """#!/bin/sh
# A crontab command that keeps the table in $CRONTAB_FILE (same CLI as Debian's).
case "$1" in
  -l) if [ -f "$CRONTAB_FILE" ]; then cat "$CRONTAB_FILE"; else echo "no crontab" >&2; exit 1; fi ;;
  -r) rm -f "$CRONTAB_FILE" ;;
  -) cat > "$CRONTAB_FILE" ;;
  *) cp "$1" "$CRONTAB_FILE" ;;
esac
"""


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def file_crontab(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    command = tmp_path / "crontab"
    command.write_text(FILE_CRONTAB)
    command.chmod(0o755)
    table = tmp_path / "table"
    table.write_text("MAILTO=''\n15 3 * * * /usr/bin/true # someone else's job\n")
    env = {**os.environ, "CRONTAB": str(command), "CRONTAB_FILE": str(table)}
    yield env, table


def _listing(env: dict[str, str]) -> str:
    cmd = env["CRONTAB"].split() + ["-l"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def _entries(text: str) -> list[str]:
    return [line for line in text.splitlines() if MARKER in line]


def test_install_twice_leaves_one_entry_and_keeps_other_lines(
    file_crontab: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = file_crontab
    out = tmp_path / "exports"
    first = _run(env, str(out))
    assert first.returncode == 0, first.stderr
    second = _run(env, "--schedule", "30 5 * * 1-5", str(out))
    assert second.returncode == 0, second.stderr

    listing = _listing(env)
    entries = _entries(listing)
    assert len(entries) == 1
    assert entries[0].startswith("30 5 * * 1-5 ")  # the second schedule replaced the first
    assert f"'{out}'" in entries[0]
    assert "flock -n" in entries[0] and "logs/extract_crm_data.log" in entries[0]
    assert "someone else's job" in listing and "MAILTO=''" in listing


def test_default_schedule_is_six_every_morning(
    file_crontab: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = file_crontab
    assert _run(env, str(tmp_path / "o")).returncode == 0
    assert _entries(_listing(env))[0].startswith("0 6 * * * ")


def test_remove_takes_only_our_entry_out(
    file_crontab: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = file_crontab
    assert _run(env, str(tmp_path / "o")).returncode == 0
    removed = _run(env, "--remove")
    assert removed.returncode == 0, removed.stderr
    listing = _listing(env)
    assert _entries(listing) == []
    assert "someone else's job" in listing
    assert _run(env, "--remove").returncode == 0  # removing again is fine


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schedule", "every day", "/tmp/x"], "5 cron fields"),
        (["--schedule", "0 6 * * * %", "/tmp/x"], "5 cron fields"),
        ([], "usage"),
        (["--bogus", "/tmp/x"], "unknown option"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(
    file_crontab: tuple[dict[str, str], Path], args: list[str], message: str
) -> None:
    env, table = file_crontab
    before = table.read_text()
    done = _run(env, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert table.read_text() == before


def test_a_run_still_holding_the_lock_makes_the_next_skip(
    file_crontab: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = file_crontab
    log = tmp_path / "cron.log"
    out = tmp_path / "o"
    assert _run(env, "--log", str(log), str(out)).returncode == 0
    line = _entries(_listing(env))[0]
    command = line.split(None, 5)[5]  # what cron hands to /bin/sh
    lock = REPO_ROOT / "logs" / "extract_crm_data.lock"
    lock.parent.mkdir(exist_ok=True)
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = subprocess.run(["/bin/sh", "-c", command], env=env, timeout=30)
    assert done.returncode == 0
    assert "skipped: the previous run still holds" in log.read_text()
    assert not out.exists()  # the extraction did not start


@pytest.fixture
def nobody_crontab() -> Iterator[dict[str, str]]:
    if shutil.which("crontab") is None:
        pytest.skip("Debian's crontab is not installed (apt-get install cron)")
    if os.geteuid() != 0:
        pytest.skip("the real-crontab test edits user nobody's crontab, which needs root")
    saved = subprocess.run(["crontab", "-u", "nobody", "-l"], capture_output=True, text=True)
    yield {**os.environ, "CRONTAB": "crontab -u nobody"}
    if saved.returncode == 0:
        subprocess.run(["crontab", "-u", "nobody", "-"], input=saved.stdout, text=True, check=True)
    else:
        subprocess.run(["crontab", "-u", "nobody", "-r"], capture_output=True)


def test_real_crontab_is_idempotent_and_removable(
    nobody_crontab: dict[str, str], tmp_path: Path
) -> None:
    env = nobody_crontab
    for _ in range(2):
        done = _run(env, "--schedule", NEVER, str(tmp_path / "o"))
        assert done.returncode == 0, done.stderr
    assert len(_entries(_listing(env))) == 1
    assert _run(env, "--remove").returncode == 0
    assert _entries(_listing(env)) == []
