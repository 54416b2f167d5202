"""deal_aggregations after a sync that moved, emptied and deleted deals
equals the sums a user would compute from the deals mart, in UTC and in
another reporting time zone (it is rebuilt in full at every build)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import requests
from dbt_support import AGGREGATIONS, DbtProject, aggregations_from_deals, extract_duckdb, rows

from extract.sandbox import SandboxConfig, serve_in_thread

SMALL = SandboxConfig(seed=7, accounts=60, contacts=120, deals=600)


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
    and build again. Keeps the second build's aggregations."""
    workdir = tmp_path_factory.mktemp("aggregations")
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
            before = rows(con, AGGREGATIONS)
        mover, sizeless, deleted = deals[0][0], deals[1][0], deals[2][0]
        update_deal(sandbox, mover, {"sales_account_id": other[1],
                                     "custom_field": {"cf_account_id": str(other[0])}})
        update_deal(sandbox, sizeless, {"amount": None})
        admin_mutate(sandbox, {"entity": "deals", "ids": [deleted], "delete": True})
        changed = admin_mutate(sandbox, {"entity": "deals", "count": 25})
        extract_duckdb(sandbox, path, workdir / "pipelines")
    project.run("build")
    with duckdb.connect(str(path), read_only=True) as con:
        after = rows(con, AGGREGATIONS)
    return {"project": project, "path": path, "before": before, "after": after,
            "moved": (mover, other[0]), "sizeless": sizeless, "deleted": deleted,
            "changed": changed}


def test_aggregations_after_a_sync_equal_the_deals_mart(synced: dict[str, Any]) -> None:
    with duckdb.connect(str(synced["path"]), read_only=True) as con:
        expected = rows(con, aggregations_from_deals("UTC"))
        moved_to = rows(con, f"select account_id from marts.deals where id = {synced['moved'][0]}")
        lost_size = rows(con, f"select deal_size from marts.deals where id = {synced['sizeless']}")
        deleted = rows(con, f"select count(*) from marts.deals where id = {synced['deleted']}")
    assert moved_to == [(synced["moved"][1],)], "the move did not reach the deals mart"
    assert lost_size == [(None,)] and deleted == [(0,)]
    assert len(synced["changed"]) == 25
    assert synced["after"] == expected
    assert synced["after"] != synced["before"]  # the sync changed some groups


def test_another_time_zone_moves_the_periods(synced: dict[str, Any]) -> None:
    """Deals near midnight change day in Tokyo: the next build follows."""
    synced["project"].run("build", "--select", "deal_aggregations",
                          "--vars", "{reporting_time_zone: Asia/Tokyo}")
    with duckdb.connect(str(synced["path"]), read_only=True) as con:
        tokyo = rows(con, AGGREGATIONS)
        expected = rows(con, aggregations_from_deals("Asia/Tokyo"))
    assert tokyo == expected
    assert tokyo != synced["after"]
