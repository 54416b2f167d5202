"""The tools on PostgreSQL end to end: extract into an own raw schema, `dbt build
--target postgres` with an own schema prefix, then export, find and
update-value (whose re-sync writes PostgreSQL's raw). Schemas dropped after."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pg_world(
    require_postgres: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    import psycopg2

    from extract.config import pg_settings
    from extract.pipeline import run_extract
    from extract.sandbox import SandboxConfig, serve_in_thread

    tag = f"tools_{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("pg")
    pg = pg_settings()
    # dlt insists on a password even where the server trusts local connections.
    pg = dataclasses.replace(pg, password=pg.password or "unused-with-trust-auth")
    env = {
        "PGPASSWORD": pg.password,
        "DBT_TARGET": "postgres",
        "RAW_SCHEMA": f"{tag}_raw",
        "DBT_SCHEMA_PREFIX": f"{tag}_",
        "MARTS_SCHEMA": "",
        "DLT_PIPELINES_DIR": str(tmp / "pipelines"),
        "AUDIT_LOG": str(tmp / "audit.jsonl"),
    }
    saved = {k: os.environ.get(k) for k in [*env, "CRM_BASE_URL", "CRM_API_TOKEN"]}
    conn = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password,
                            dbname=pg.database)
    conn.autocommit = True
    try:
        with serve_in_thread(SandboxConfig(seed=5, accounts=15, contacts=20, deals=40,
                                           dirt_rate=0)) as sb:
            os.environ.update({**env, "CRM_BASE_URL": sb.base_url, "CRM_API_TOKEN": sb.api_key})
            run_extract(destination="postgres", base_url=sb.base_url, api_key=sb.api_key,
                        dataset=env["RAW_SCHEMA"], pg_credentials=pg,
                        pipelines_dir=tmp / "pipelines")
            dbt = Path(sys.executable).parent / "dbt"
            done = subprocess.run(
                [str(dbt), "build", "--target", "postgres", "--quiet", "--select", "+marts"],
                cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
            )
            assert done.returncode == 0, done.stdout[-3000:]
            yield {"sandbox": sb, "conn": conn, "tag": tag, "tmp": tmp}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with conn.cursor() as cur:
            cur.execute("select nspname from pg_namespace where nspname like %s", [f"{tag}%"])
            for (schema,) in cur.fetchall():
                cur.execute(f'drop schema "{schema}" cascade')
        conn.close()


def _q(world: dict[str, Any], sql: str, params: list[Any] | None = None) -> list[tuple]:
    with world["conn"].cursor() as cur:
        cur.execute(sql.replace("{tag}", world["tag"]), params or [])
        return cur.fetchall()


def test_export_find_and_update_value_on_postgres(
    pg_world: dict[str, Any], cli: Any, tmp_path: Path
) -> None:
    deals = _q(pg_world, "select id, deal_id, deal_size from {tag}_marts.deals order by id")
    assert len(deals) > 10

    result = cli("export", "--out", str(tmp_path), "--format", "json,csv,parquet")
    assert result.code == 0, result.err
    today = dt.datetime.now(dt.UTC).date().isoformat()
    records = json.loads((tmp_path / f"{today}_deals.json").read_text(), parse_float=Decimal)
    assert sorted((r["id"], r["deal_id"], r["deal_size"]) for r in records) == deals
    with open(tmp_path / f"{today}_accounts.csv", newline="") as handle:
        accounts = _q(pg_world, "select count(*) from {tag}_marts.accounts")[0][0]
        assert sum(1 for _ in csv.DictReader(handle)) == accounts
    assert json.loads((tmp_path / f"{today}_rejected_records.json").read_text()) == []

    crm_id, deal_id, _ = deals[3]
    found = cli("find", "deals", "--where", f"deal_id={deal_id}", "--format", "json")
    assert found.code == 0 and [r["id"] for r in json.loads(found.out)] == [crm_id]

    updated = cli("update-value", "--domain", "deals", "--key", "deal_id", "--value",
                  str(deal_id), "--key-to-update", "deal_size", "--update-value", "777.70")
    assert updated.code == 0, updated.out + updated.err
    assert pg_world["sandbox"].state.by_id("deals", crm_id)["amount"] == "777.70"
    assert _q(pg_world, "select amount from {tag}_raw.deals where id = %s", [crm_id]) == [
        (Decimal("777.70"),)
    ]
