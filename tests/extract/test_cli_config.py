"""`python -m extract run` finds the CRM the project's way or dlt's way.

Order, for the URL and the key each: CRM_BASE_URL / CRM_API_TOKEN (environment,
then .env), then dlt's `sources.freshsales.base_url` / `.api_key` (env
SOURCES__FRESHSALES__*, then `.dlt/secrets.toml` and `.dlt/config.toml` of the
working directory). The demo sandbox only when neither gives a URL nor a key.

Every run is a real subprocess in its own empty working directory (so dlt reads
that directory's `.dlt/`, never the project's), against a real sandbox with
sizes and a key of its own (so it cannot be taken for the demo), into a DuckDB
file and a dlt folder in tmp. CRM_BASE_URL / CRM_API_TOKEN are set empty
unless a test sets them: empty means "not set", and it keeps a `.env` at the
repo root from supplying them (python-dotenv never overrides a variable).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from extract_helpers import REPO_ROOT, sandbox

KEY_A = "key-a-must-never-be-printed"
KEY_B = "key-b-must-never-be-printed"
SIZES_A = {"accounts": 37, "contacts": 91, "deals": 143}
SIZES_B = {"accounts": 11, "contacts": 23, "deals": 47}
INHERITED = ("CRM_", "PG", "DATABASE_URL", "DUCKDB_", "RAW_", "DBT_TARGET",
             "SOURCES__FRESHSALES__BASE_URL", "SOURCES__FRESHSALES__API_KEY", "DLT_PROJECT_DIR")


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED)}
    env.update(CRM_BASE_URL="", CRM_API_TOKEN="", DUCKDB_PATH=str(tmp_path / "cli.duckdb"),
               DBT_TARGET="duckdb", RUNTIME__DLTHUB_TELEMETRY="false",
               PYTHONPATH=str(REPO_ROOT))
    env.update(overrides)
    return env


def _workdir(tmp_path: Path, config: str = "", secrets: str = "") -> Path:
    """An empty working directory, with `.dlt/config.toml` / `secrets.toml` if given."""
    work = tmp_path / "work"
    (work / ".dlt").mkdir(parents=True)
    if config:
        (work / ".dlt" / "config.toml").write_text(config)
    if secrets:
        (work / ".dlt" / "secrets.toml").write_text(secrets)
    return work


def _run(tmp_path: Path, work: Path, env: dict[str, str], timeout: float = 180,
         ) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "extract", "run", "--pipelines-dir",
               str(tmp_path / "pipelines"), "--summary", str(tmp_path / "summary.json")]
    return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _loaded(tmp_path: Path) -> dict[str, int]:
    counts = json.loads((tmp_path / "summary.json").read_text())["raw_counts"]
    return {"accounts": counts["sales_accounts"], "contacts": counts["contacts"],
            "deals": counts["deals"]}


def _sizes(sb: Any) -> dict[str, int]:
    sizes = sb.state.gen.sizes
    return {"accounts": sizes["sales_accounts"], "contacts": sizes["contacts"],
            "deals": sizes["deals"]}


def _section(**values: str) -> str:
    return "[sources.freshsales]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items())


def test_dlt_environment_variables_select_the_crm(tmp_path):
    with sandbox(api_key=KEY_A, **SIZES_A) as sb:
        env = _env(tmp_path, SOURCES__FRESHSALES__BASE_URL=sb.base_url,
                   SOURCES__FRESHSALES__API_KEY=sb.api_key)
        done = _run(tmp_path, _workdir(tmp_path), env)
        assert done.returncode == 0, done.stderr
        assert _loaded(tmp_path) == _sizes(sb) == SIZES_A
    assert "DEMO" not in done.stderr and "note:" not in done.stderr
    assert KEY_A not in done.stdout + done.stderr


def test_dlt_toml_files_in_the_working_directory_select_the_crm(tmp_path):
    with sandbox(api_key=KEY_A, **SIZES_A) as sb:
        # the URL goes through CRM_BASE_URL's normalisation: a trailing /api/ is dropped
        config = f'[sources.freshsales]\nper_page = 100\nbase_url = "{sb.base_url}/api/"\n'
        work = _workdir(tmp_path, config=config, secrets=_section(api_key=sb.api_key))
        done = _run(tmp_path, work, _env(tmp_path))
        assert done.returncode == 0, done.stderr
        assert _loaded(tmp_path) == _sizes(sb) == SIZES_A
    assert "DEMO" not in done.stderr and "note:" not in done.stderr
    assert KEY_A not in done.stdout + done.stderr


@pytest.mark.parametrize("crm_vars", ["both", "url only"])
def test_crm_variables_win_over_dlt_config(tmp_path, crm_vars):
    """Sandbox A through CRM_*, sandbox B through dlt (env and TOML files): A is loaded.
    With only CRM_BASE_URL set, the key comes from dlt (a mix is fine)."""
    with sandbox(api_key=KEY_A, **SIZES_A) as a, sandbox(api_key=KEY_B, **SIZES_B) as b:
        work = _workdir(tmp_path, config=_section(base_url=b.base_url),
                        secrets=_section(api_key=b.api_key))
        if crm_vars == "both":
            env = _env(tmp_path, CRM_BASE_URL=a.base_url, CRM_API_TOKEN=a.api_key,
                       SOURCES__FRESHSALES__BASE_URL=b.base_url)
        else:
            env = _env(tmp_path, CRM_BASE_URL=a.base_url,
                       SOURCES__FRESHSALES__BASE_URL=b.base_url,
                       SOURCES__FRESHSALES__API_KEY=a.api_key)
        done = _run(tmp_path, work, env)
        assert done.returncode == 0, done.stderr
        assert _loaded(tmp_path) == _sizes(a) == SIZES_A
        assert b.state.gen.sizes["deals"] == SIZES_B["deals"]
    output = done.stdout + done.stderr
    assert KEY_A not in output and KEY_B not in output


@pytest.mark.parametrize(("where", "missing"), [
    ("CRM_BASE_URL", "no API key"),
    ("SOURCES__FRESHSALES__BASE_URL", "no API key"),
    ("config.toml base_url", "no API key"),
    ("CRM_API_TOKEN", "no CRM URL"),
    ("SOURCES__FRESHSALES__API_KEY", "no CRM URL"),
    ("secrets.toml api_key", "no CRM URL"),
])
def test_half_a_crm_is_one_line_exit_2_and_nothing_extracted(tmp_path, where, missing):
    url = "http://127.0.0.1:9/crm/sales"
    value = KEY_A if missing == "no CRM URL" else url
    config = secrets = ""
    overrides: dict[str, str] = {}
    if where == "config.toml base_url":
        config = _section(base_url=url)
    elif where == "secrets.toml api_key":
        secrets = _section(api_key=KEY_A)
    else:
        overrides[where] = value
    done = _run(tmp_path, _workdir(tmp_path, config, secrets), _env(tmp_path, **overrides))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert missing in lines[0]
    # it says where the missing half can be set, both ways
    if missing == "no API key":
        assert "CRM_API_TOKEN" in lines[0] and ".dlt/secrets.toml" in lines[0]
    else:
        assert "CRM_BASE_URL" in lines[0] and ".dlt/config.toml" in lines[0]
    assert KEY_A not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "cli.duckdb").exists()
    assert not (tmp_path / "pipelines").exists()


def test_bad_dlt_values_are_one_line_without_the_key(tmp_path):
    # a URL that is no URL: CRM_BASE_URL's check, naming dlt's key
    env = _env(tmp_path, SOURCES__FRESHSALES__API_KEY=KEY_A)
    work = _workdir(tmp_path, config=_section(base_url="acme.myfreshworks.com"))
    done = _run(tmp_path, work, env)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: sources.freshsales.base_url must be an http(s) URL such as "
        "https://acme.myfreshworks.com/crm/sales")
    # the key in config.toml (not a secrets file): dlt does not take it; we say why
    (work / ".dlt" / "config.toml").write_text(
        _section(base_url="http://127.0.0.1:9/crm/sales", api_key=KEY_A))
    done = _run(tmp_path, work, _env(tmp_path))
    assert done.returncode == 2
    assert "no API key" in done.stderr and "config.toml" in done.stderr
    # a secrets.toml that is not TOML: the file and the position, not its text
    (work / ".dlt" / "secrets.toml").write_text(f'[sources.freshsales]\napi_key = "{KEY_A}\n')
    done = _run(tmp_path, work, _env(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot read dlt's secrets.toml")
    for output in (done.stdout, done.stderr):
        assert KEY_A not in output and "Traceback" not in output
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cli.duckdb").exists()


def test_nothing_set_extracts_the_demo_and_says_so_first(tmp_path):
    from extract.sandbox import SandboxConfig

    done = _run(tmp_path, _workdir(tmp_path), _env(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("note: no CRM is set") and "DEMO data" in lines[0], done.stderr
    assert "CRM_BASE_URL" in done.stderr and "CRM_API_TOKEN" in done.stderr
    assert ".dlt/config.toml" in done.stderr and ".dlt/secrets.toml" in done.stderr
    # run outside the project: the note says which .dlt dlt read
    assert str((tmp_path / "work" / ".dlt").resolve()) in done.stderr
    demo = SandboxConfig()
    assert _loaded(tmp_path) == {"accounts": demo.accounts, "contacts": demo.contacts,
                                 "deals": demo.deals}
