"""deal_aggregations built incrementally after a sync equals a full rebuild,
also when deals moved account, lost their size or were deleted."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import requests
from dbt_support import DbtProject, extract_duckdb, rows

from extract.sandbox import SandboxConfig, serve_in_thread

SMALL = SandboxConfig(seed=7, accounts=60, contacts=120, deals=600)
AGGREGATIONS = ("select * from marts.deal_aggregations"
                " order by account_id, aggregation_type, aggregation_date")


def admin_mutate(sandbox: Any, body: dict[str, Any]) -> list[int]:
    url = sandbox.base_url.rstrip("/") + "/admin/mutate"
    response = requests.post(url, json=body, timeout=10,
                             headers={"Authorization": f"Token token={sandbox.api_key}"})
    response.raise_for_status()
    return response.json()["ids"]


def update_deal(sandbox: Any, crm_id: int, fields: dict[str, Any]) -> None:
    url = f"{sandbox.base_url.rstrip('/')}/api/deals/{crm_id}"
    response = requests.put(url, json={"deal": fields}, timeout=10,
                            headers={"Authorization": f"Token token={sandbox.api_key}"})
    response.raise_for_status()


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Build, change deals in the CRM (mutate, move, size lost, delete), sync,
    and build again incrementally. Keeps the incremental result."""
    workdir = tmp_path_factory.mktemp("incremental")
    path = workdir / "crm.duckdb"
    project = DbtProject(workdir / "dbt", env={"DUCKDB_PATH": str(path)})
    with serve_in_thread(SMALL) as sandbox:
        extract_duckdb(sandbox, path, workdir / "pipelines")
        project.run("build")
        with duckdb.connect(str(path), read_only=True) as con:
            deals = rows(con, """
                select d.id, d.account_id, a.id from marts.deals as d
                join marts.accounts as a on a.account_id = d.account_id
                where d.deal_size is not null order by d.id limit 6""")
            other = rows(con, """select account_id, id from marts.accounts
                                 order by account_id desc limit 1""")[0]
        mover, sizeless, deleted = deals[0][0], deals[1][0], deals[2][0]
        update_deal(sandbox, mover, {"sales_account_id": other[1],
                                     "custom_field": {"cf_account_id": str(other[0])}})
        update_deal(sandbox, sizeless, {"amount": None})
        admin_mutate(sandbox, {"entity": "deals", "ids": [deleted], "delete": True})
        changed = admin_mutate(sandbox, {"entity": "deals", "count": 25})
        extract_duckdb(sandbox, path, workdir / "pipelines")
    result = project.run("build")
    executed = next((workdir / "dbt" / "target" / "compiled").rglob("deal_aggregations.sql"))
    with duckdb.connect(str(path), read_only=True) as con:
        incremental = rows(con, AGGREGATIONS)
    return {"project": project, "path": path, "incremental": incremental,
            "moved": (mover, other[0]), "sizeless": sizeless, "deleted": deleted,
            "changed": changed, "log": result.stdout, "sql": executed.read_text()}


def test_incremental_build_equals_full_rebuild(synced: dict[str, Any]) -> None:
    assert "incremental model marts.deal_aggregations" in synced["log"]
    # the build diffed against the saved contributions instead of redoing all
    assert "int_deal_aggregations_state" in synced["sql"]
    synced["project"].run("build", "--select", "deal_aggregations", "--full-refresh")
    with duckdb.connect(str(synced["path"]), read_only=True) as con:
        full = rows(con, AGGREGATIONS)
        moved_to = rows(con, f"select account_id from marts.deals where id = {synced['moved'][0]}")
        lost_size = rows(con, f"select deal_size from marts.deals where id = {synced['sizeless']}")
        deleted = rows(con, f"select count(*) from marts.deals where id = {synced['deleted']}")
    assert moved_to == [(synced["moved"][1],)], "the move did not reach the deals mart"
    assert lost_size == [(None,)] and deleted == [(0,)]
    assert len(synced["changed"]) == 25
    assert synced["incremental"] == full


def test_incremental_build_with_another_time_zone_equals_full_rebuild(
    synced: dict[str, Any],
) -> None:
    """Periods move for deals near midnight: the stale groups must go."""
    project = synced["project"]
    tokyo = "{reporting_time_zone: Asia/Tokyo}"
    project.run("build", "--select", "deal_aggregations", "--vars", tokyo)
    with duckdb.connect(str(synced["path"]), read_only=True) as con:
        incremental = rows(con, AGGREGATIONS)
    project.run("build", "--select", "deal_aggregations", "--vars", tokyo, "--full-refresh")
    with duckdb.connect(str(synced["path"]), read_only=True) as con:
        full = rows(con, AGGREGATIONS)
    assert incremental == full
    assert incremental != synced["incremental"]  # some deals changed day in Tokyo
