"""Helpers of the extractor tests: a real sandbox over HTTP, real DuckDB files,
the real PostgreSQL (own schema per test, dropped afterwards)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import requests

from extract.config import PgSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = {"accounts": 120, "contacts": 450, "deals": 730}


@contextmanager
def sandbox(**options: Any) -> Iterator[Any]:
    from extract.sandbox import SandboxConfig, serve_in_thread

    config = SandboxConfig(**{**SMALL, **options})
    with serve_in_thread(config) as sb:
        yield sb


class Api:
    """Plain HTTP calls to the sandbox, as a user of the CRM would make them."""

    def __init__(self, sb: Any) -> None:
        self.base = sb.base_url.rstrip("/") + "/api"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token token={sb.api_key}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(f"{self.base}/{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def views(self, entity: str) -> dict[str, int]:
        return {f["name"]: f["id"] for f in self.get(f"{entity}/filters")["filters"]}

    def view_total(self, entity: str, name: str) -> int:
        view_id = self.views(entity)[name]
        return int(self.get(f"{entity}/view/{view_id}", per_page=1)["meta"]["total"])

    def record(self, entity: str, record_id: int) -> dict[str, Any]:
        data = self.get(f"{entity}/{record_id}")
        return data[{"sales_accounts": "sales_account", "contacts": "contact",
                     "deals": "deal"}[entity]]

    def all_records(self, entity: str) -> dict[int, dict[str, Any]]:
        """Every record of an entity as the CRM serves it now (all views + bin)."""
        found: dict[int, dict[str, Any]] = {}
        views = self.views(entity)
        names = [n for n in ("All Accounts", "All Contacts", "All Deals", "Recycle Bin")
                 if n in views]
        for name in names:
            page = 1
            while True:
                data = self.get(f"{entity}/view/{views[name]}", page=page, per_page=100)
                rows = data[entity]
                for row in rows:
                    found[row["id"]] = row
                if not rows or page >= data["meta"]["total_pages"]:
                    break
                page += 1
        return found

    def mutate(self, **body: Any) -> Any:
        root = self.base[: -len("/api")]
        response = self.session.post(f"{root}/admin/mutate", json=body, timeout=30)
        response.raise_for_status()
        return response.json()


def expected_list_requests(api: Api, entity: str, names: list[str]) -> int:
    return sum(math.ceil(api.view_total(entity, n) / 100) or 1 for n in names)


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def raw_rows(path: Path, table: str, columns: str = "*") -> dict[int, tuple[Any, ...]]:
    rows = query(path, f"select id, {columns} from raw.{table}")
    return {row[0]: row[1:] for row in rows}


def pg_query(settings: PgSettings, sql: str) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(host=settings.host, port=settings.port, user=settings.user,
                            password=settings.password or None, dbname=settings.database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def cli_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a CLI run: no CRM, database or dlt source settings of
    the caller's, a DuckDB file in `tmp_path`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CRM_", "PG", "DATABASE_URL", "DUCKDB_", "RAW_", "DBT_TARGET",
                                "SOURCES__FRESHSALES__BASE_URL", "SOURCES__FRESHSALES__API_KEY",
                                "DLT_PROJECT_DIR"))}
    env.update(DUCKDB_PATH=str(tmp_path / "cli.duckdb"), DBT_TARGET="duckdb",
               RUNTIME__DLTHUB_TELEMETRY="false", PYTHONPATH=str(REPO_ROOT))
    env.update(overrides)
    return env


def run_cli(tmp_path: Path, *args: str, env: dict[str, str], timeout: float = 120,
            ) -> subprocess.CompletedProcess[str]:
    """`python -m extract run` with its dlt folder in `tmp_path`."""
    command = [sys.executable, "-m", "extract", "run", "--pipelines-dir",
               str(tmp_path / "pipelines"), *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
