"""Fixtures of the tools tests: one real sandbox, the real extractor and a real
`dbt build` into a temporary DuckDB file, shared by the session.

The sandbox has no dirt (so `rejected_records` is the empty table the export
tests need) and refuses PUTs of one deal (`fail_ids`), chosen among the deals
of an account that has several, so a batch update partly fails. Its request
handler is wrapped to record every call, so tests can assert "no request".
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SIZES = {"accounts": 30, "contacts": 40, "deals": 90}
SEED = 11


@dataclass
class World:
    """The running sandbox and the warehouse built from it."""

    sandbox: Any
    tmp: Path
    duckdb_path: Path
    audit_log: Path
    fail_deal: int  # CRM id of the deal whose PUTs fail
    fail_account: int  # business key (account_id) of that deal's account
    calls: list[tuple[str, str]] = field(default_factory=list)

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in {"PUT", "POST", "DELETE"}]

    def crm_record(self, entity: str, crm_id: int) -> dict[str, Any]:
        """A record as the CRM serves it now (a plain GET, not counted by tests)."""
        module = {"accounts": "sales_accounts", "contacts": "contacts", "deals": "deals"}[entity]
        wrapper = {"accounts": "sales_account", "contacts": "contact", "deals": "deal"}[entity]
        response = requests.get(
            f"{self.sandbox.base_url}/api/{module}/{crm_id}",
            headers={"Authorization": f"Token token={self.sandbox.api_key}"},
            timeout=10,
        )
        response.raise_for_status()
        self.calls.pop()  # this look-up is the test's, not the tool's
        return response.json()[wrapper]

    def dbt_build(self) -> None:
        dbt_build(self.tmp)

    @staticmethod
    def cli_subprocess(*args: str) -> CliResult:
        return run_cli_subprocess(*args)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


def _pick_failing_deal() -> tuple[int, int]:
    """A deal whose account has at least three deals: (deal CRM id, account business key)."""
    from extract.sandbox import SandboxConfig
    from extract.sandbox.store import Store

    store = Store(SandboxConfig(seed=SEED, dirt_rate=0, **SIZES))
    by_account: dict[str, list[int]] = {}
    for i in range(store.count("deals")):
        deal = store.get("deals", i)
        by_account.setdefault(deal["custom_field"]["cf_account_id"], []).append(deal["id"])
    account, deals = max(by_account.items(), key=lambda kv: len(kv[1]))
    assert len(deals) >= 3, "the sample data should give some account three deals"
    return deals[1], int(account)


def _count_calls(sb: Any, calls: list[tuple[str, str]]) -> None:
    base = sb.server.RequestHandlerClass

    class Counting(base):  # type: ignore[misc, valid-type]
        def _dispatch(self, method: str) -> None:
            calls.append((method, self.path))
            super()._dispatch(method)

    sb.server.RequestHandlerClass = Counting


def dbt_build(tmp: Path, *selectors: str) -> None:
    """`dbt build` at the repo root into the DuckDB file of the environment."""
    dbt = Path(sys.executable).parent / "dbt"
    args = [str(dbt), "build", "--target", "duckdb", "--quiet", *selectors]
    done = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"dbt build failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"


def extract_into_raw(world_tmp: Path) -> dict[str, Any]:
    from extract.config import load_settings
    from extract.pipeline import run_extract

    settings = load_settings(read_env_file=False)
    return run_extract(
        destination="duckdb",
        base_url=settings.crm_base_url,
        api_key=settings.crm_api_token,
        duckdb_path=settings.duckdb_path,
        dataset=settings.raw_schema,
        pipelines_dir=world_tmp / "pipelines",
    )


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from extract.sandbox import SandboxConfig, serve_in_thread

    tmp = tmp_path_factory.mktemp("tools")
    fail_deal, fail_account = _pick_failing_deal()
    config = SandboxConfig(seed=SEED, dirt_rate=0, fail_ids=frozenset({fail_deal}), **SIZES)
    profiles = tmp / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text((REPO_ROOT / "profiles.example.yml").read_text())
    with serve_in_thread(config) as sb:
        w = World(sb, tmp, tmp / "crm.duckdb", tmp / "audit.jsonl", fail_deal, fail_account)
        _count_calls(sb, w.calls)
        env = {
            "CRM_BASE_URL": sb.base_url,
            "CRM_API_TOKEN": sb.api_key,
            "DBT_TARGET": "duckdb",
            "DUCKDB_PATH": str(w.duckdb_path),
            "RAW_SCHEMA": "raw",
            "DLT_PIPELINES_DIR": str(tmp / "pipelines"),
            "AUDIT_LOG": str(w.audit_log),
            "DBT_PROFILES_DIR": str(profiles),
            "DBT_TARGET_PATH": str(tmp / "dbt_target"),
            "DBT_LOG_PATH": str(tmp / "dbt_logs"),
            "DBT_SCHEMA_PREFIX": "",
            "MARTS_SCHEMA": "",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            extract_into_raw(tmp)
            dbt_build(tmp)
            yield w
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def method_counts(calls: list[tuple[str, str]]) -> Counter[str]:
    return Counter(method for method, _ in calls)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `python -m extract ...` in-process; returns exit code, stdout, stderr."""
    from extract.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_cli_subprocess(*args: str, stdin: Any = subprocess.DEVNULL) -> CliResult:
    """`python -m extract ...` as a separate process (no terminal on stdin)."""
    done = subprocess.run(
        [sys.executable, "-m", "extract", *args],
        cwd=REPO_ROOT,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)
