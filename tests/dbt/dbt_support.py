"""Helpers for the dbt tests: run dbt, extract from the sandbox, read marts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[2]
MART_KEYS = {
    "accounts": "id",
    "contacts": "id",
    "deals": "id",
    "rejected_records": "crm_id",
    "deal_aggregations": "account_id, aggregation_type, aggregation_date",
    "tasks": "id",
    "appointments": "id",
    "sales_activities": "id",
    "leads": "id",
    "users": "id",
}
ENTITY_MART = {"sales_accounts": "accounts", "contacts": "contacts", "deals": "deals",
               "leads": "leads", "tasks": "tasks", "appointments": "appointments",
               "sales_activities": "sales_activities"}
# Entities whose business key is the same under both presets (duplicates rejected in both).
PRESET_FREE_KEYS = {"contacts", "leads"}
# What a task, appointment or sales activity points at (targetable_type -> module).
TARGETS = {"Deal": "deals", "Contact": "contacts", "SalesAccount": "sales_accounts"}
ACTIVITIES = ("tasks", "appointments", "sales_activities")
NULLABLE_MISSING = {"missing:deal_size", "missing:job_title", "missing:last_contact_date",
                    "missing:company", "missing:description", "missing:location",
                    "missing:notes"}
# Manifest dirt whose rejection reason is spelled otherwise.
REASON_OF = {"unknown_currency": "no_exchange_rate"}


@dataclass
class DbtProject:
    """One isolated way to run the repo's dbt project (own target dir, env)."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "profiles.example.yml", self.workdir / "profiles.yml")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        dbt = Path(sys.executable).with_name("dbt")
        command = [
            str(dbt) if dbt.exists() else "dbt", *args,
            "--project-dir", str(ROOT), "--profiles-dir", str(self.workdir),
            "--target-path", str(self.workdir / "target"),
            "--log-path", str(self.workdir / "logs"),
        ]
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **self.env}
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        if check and result.returncode != 0:
            tail = "\n".join(result.stdout.splitlines()[-40:])
            raise AssertionError(f"dbt {' '.join(args)} failed ({result.returncode}):\n{tail}")
        return result


def extract_duckdb(sandbox: Any, path: Path, pipelines_dir: Path) -> dict[str, Any]:
    from extract.pipeline import run_extract

    return run_extract(
        destination="duckdb", base_url=sandbox.base_url, api_key=sandbox.api_key,
        duckdb_path=str(path), dataset="raw", pipelines_dir=str(pipelines_dir),
    )


def pg_settings() -> dict[str, Any]:
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": int(os.environ.get("PGPORT", "5432")),
        "user": os.environ.get("PGUSER", "postgres"),
        # dlt insists on a password; with trust auth any value is accepted.
        "password": os.environ.get("PGPASSWORD") or "postgres",
        "database": os.environ.get("PGDATABASE", "postgres"),
    }


def extract_postgres(sandbox: Any, dataset: str, pipelines_dir: Path) -> dict[str, Any]:
    from extract.pipeline import run_extract

    return run_extract(
        destination="postgres", base_url=sandbox.base_url, api_key=sandbox.api_key,
        dataset=dataset, pg_credentials=pg_settings(), pipelines_dir=str(pipelines_dir),
    )


def postgres_project(workdir: Path, prefix: str) -> DbtProject:
    """dbt on PostgreSQL with every schema under `prefix` (raw: `<prefix>raw`)."""
    settings = pg_settings()
    return DbtProject(workdir, env={
        "DBT_TARGET": "postgres", "DBT_SCHEMA_PREFIX": prefix,
        "RAW_SCHEMA": f"{prefix}raw",
        "PGHOST": settings["host"], "PGPORT": str(settings["port"]),
        "PGUSER": settings["user"], "PGPASSWORD": settings["password"],
        "PGDATABASE": settings["database"],
    })


@contextmanager
def pg_cursor() -> Iterator[Any]:
    """A cursor on the test database; commits on success, then closes."""
    import psycopg2

    settings = pg_settings()
    conn = psycopg2.connect(
        host=settings["host"], port=settings["port"], user=settings["user"],
        password=settings["password"], dbname=settings["database"],
    )
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def mart_rows(fetch: Any, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart's rows in key order; `fetch(sql)` runs a query on any engine."""
    return {
        mart: fetch(f"select * from {schema}.{mart} order by {keys}")
        for mart, keys in MART_KEYS.items()
    }


# ------------------------------------------------------------- reconciliation

AGGREGATIONS = ("select * from marts.deal_aggregations"
                " order by account_id, aggregation_type, aggregation_date")


def aggregations_from_deals(time_zone: str) -> str:
    """The three periods computed straight from marts.deals (DuckDB SQL)."""
    day = f"cast((created_at at time zone 'UTC') at time zone '{time_zone}' as date)"
    periods = {"daily": day, "weekly": f"cast(date_trunc('week', {day}) as date)",
               "monthly": f"cast(date_trunc('month', {day}) as date)"}
    return " union all ".join(
        f"""select account_id, '{kind}' as aggregation_type, {expr} as aggregation_date,
                   sum(deal_size_base) as total_deal_size, count(*) as deal_count
            from marts.deals where deal_size_base is not null group by all"""
        for kind, expr in periods.items()
    ) + " order by account_id, aggregation_type, aggregation_date"


def own_fate(entity: str, dirt: Iterable[str], preset: str) -> tuple[str, str | None]:
    """Where a record must end by its own dirt (docs/contract.md section 5)."""
    dirt = list(dirt)
    if "deleted" in dirt:
        return "deleted", None
    for kind in ("missing:", "unmapped:"):
        for item in dirt:
            if item.startswith(kind) and item not in NULLABLE_MISSING:
                return "rejected", item
    for item, reason in REASON_OF.items():
        if item in dirt:
            return "rejected", reason
    for item in dirt:
        if item.startswith("duplicate_of:") and (
                preset == "original" or entity in PRESET_FREE_KEYS):
            return "rejected", item
    if "orphan" in dirt:
        return "rejected", "orphan"
    return "kept", None


def expected_fates(
    manifest: list[dict[str, Any]], con: duckdb.DuckDBPyConnection, preset: str,
) -> dict[tuple[str, int], tuple[str, str | None]]:
    """Fate of every raw record; deals of a missing account cascade to orphan, and
    so do tasks, appointments and sales activities whose target is in no mart."""
    dirt = {(m["entity"], m["id"]): m["dirt"] for m in manifest}
    fates: dict[tuple[str, int], tuple[str, str | None]] = {}
    for entity in ENTITY_MART:
        for (crm_id,) in rows(con, f"select id from raw.{entity}"):
            fates[(entity, crm_id)] = own_fate(entity, dirt.get((entity, crm_id), []), preset)
    account_key = "custom_field__cf_account_id" if preset == "original" else "id"
    deal_key = "custom_field__cf_account_id" if preset == "original" else "sales_account_id"
    kept_keys = {
        str(key) for crm_id, key in rows(con, f"select id, {account_key} from raw.sales_accounts")
        if fates[("sales_accounts", crm_id)][0] == "kept"
    }
    for crm_id, key in rows(con, f"select id, {deal_key} from raw.deals"):
        if fates[("deals", crm_id)][0] == "kept" and str(key) not in kept_keys:
            fates[("deals", crm_id)] = ("rejected", "orphan")
    for entity in ACTIVITIES:
        for crm_id, kind, target in rows(
                con, f"select id, targetable_type, targetable_id from raw.{entity}"):
            target_fate = fates.get((TARGETS.get(kind, ""), target), ("absent", None))
            if fates[(entity, crm_id)][0] == "kept" and target_fate[0] != "kept":
                fates[(entity, crm_id)] = ("rejected", "orphan")
    return fates


def actual_fates(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], tuple[str, str | None]]:
    """Where each raw record ended: its mart, rejected_records or the Recycle Bin."""
    fates: dict[tuple[str, int], tuple[str, str | None]] = {}
    for entity, mart in ENTITY_MART.items():
        for (crm_id,) in rows(con, f"select id from marts.{mart}"):
            fates[(entity, crm_id)] = ("kept", None)
        for (crm_id,) in rows(con, f"select id from raw.{entity} where is_deleted"):
            assert (entity, crm_id) not in fates, f"deleted {entity} {crm_id} is in a mart"
            fates[(entity, crm_id)] = ("deleted", None)
    rejected = rows(con, "select entity, crm_id, reason from marts.rejected_records")
    for entity, crm_id, reason in rejected:
        assert (entity, crm_id) not in fates, f"{entity} {crm_id} is rejected and elsewhere"
        fates[(entity, crm_id)] = ("rejected", reason)
    return fates


def fate_differences(expected: dict[Any, Any], actual: dict[Any, Any]) -> list[str]:
    keys = sorted(set(expected) | set(actual))
    return [
        f"{key}: expected {expected.get(key)}, got {actual.get(key)}"
        for key in keys if expected.get(key) != actual.get(key)
    ]
