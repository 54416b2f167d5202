"""Stage history across syncs: sandbox -> extract -> dbt build (snapshot) ->
deals move between stages over the CRM's API -> extract -> dbt build again;
deal_stage_history and pipeline_daily must tell what was done."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pytest
import requests
from dbt_support import DbtProject, extract_duckdb, rows

from extract.sandbox import SandboxConfig, serve_in_thread

SANDBOX = SandboxConfig(seed=7, accounts=60, contacts=200, deals=400)


def naive_utc(stamp: str) -> datetime:
    """A CRM time stamp (ISO with offset) as the marts store it: naive UTC."""
    return datetime.fromisoformat(stamp).astimezone(UTC).replace(tzinfo=None)


class Crm:
    """Plain HTTP calls to the sandbox, as a CRM user would make them."""

    def __init__(self, sandbox: Any) -> None:
        self.root = sandbox.base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token token={sandbox.api_key}"

    def move(self, deal: int, stage_id: int, label: str) -> dict[str, Any]:
        """Move a deal to a stage: the stage id and the tenant's stage field."""
        body = {"deal": {"deal_stage_id": stage_id, "custom_field": {"cf_deal_stage": label}}}
        response = self.session.put(f"{self.root}/api/deals/{deal}", json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json()["deal"])

    def delete(self, deal: int) -> dict[str, Any]:
        response = self.session.post(
            f"{self.root}/admin/mutate", timeout=10,
            json={"entity": "deals", "ids": [deal], "delete": True})
        response.raise_for_status()
        got = self.session.get(f"{self.root}/api/deals/{deal}", timeout=10)
        got.raise_for_status()
        return dict(got.json()["deal"])


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two syncs and builds with stage moves and a deletion in between."""
    workdir = tmp_path_factory.mktemp("sales_history")
    path = workdir / "crm.duckdb"
    project = DbtProject(workdir / "dbt", env={"DUCKDB_PATH": str(path)})
    with serve_in_thread(SANDBOX) as sandbox:
        extract_duckdb(sandbox, path, workdir / "pipelines")
        project.run("build")
        with duckdb.connect(str(path), read_only=True) as con:
            stage_ids = dict(rows(con, "select name, id from raw.deal_stages"))
            first = {
                "visits": rows(con, "select count(*) from marts.deal_stage_history")[0][0],
                "deals": rows(con, "select count(*) from marts.deals_enhanced")[0][0],
                "snapshot": rows(con, "select count(*) from snapshots.deals_snapshot")[0][0],
                "won_this_month": rows(
                    con, "select won_deals_this_month from marts.sales_snapshot")[0][0],
            }
            prospecting = [i for (i,) in rows(con, """
                select id from marts.deals_enhanced
                where deal_stage = 'Prospecting' order by id limit 4""")]
            negotiating = [i for (i,) in rows(con, """
                select id from marts.deals_enhanced
                where deal_stage = 'Negotiation' order by id limit 1""")]
            entered = dict(rows(con, """
                select deal_crm_id, entered_at from marts.deal_stage_history"""))
        # a build with no change in the CRM adds no snapshot row
        project.run("build")
        with duckdb.connect(str(path), read_only=True) as con:
            unchanged = rows(con, "select count(*) from snapshots.deals_snapshot")[0][0]

        crm = Crm(sandbox)
        moved_on, skipped, lost, deleted = prospecting
        (went_back,) = negotiating
        done = {
            "moved_on": crm.move(moved_on, stage_ids["Negotiation"], "Negotiation"),
            "skipped": crm.move(skipped, stage_ids["Closed-Won"], "Closed-Won"),
            "lost": crm.move(lost, stage_ids["Closed-Lost"], "Closed-Lost"),
            "went_back": crm.move(went_back, stage_ids["Prospecting"], "Prospecting"),
            "deleted": crm.delete(deleted),
        }
        extract_duckdb(sandbox, path, workdir / "pipelines")
    project.run("build")
    copy = workdir / "read.duckdb"
    shutil.copy(path, copy)
    return {"path": copy, "first": first, "unchanged": unchanged, "done": done,
            "entered_before": entered}


def visits_of(con: duckdb.DuckDBPyConnection, deal: int) -> list[tuple[Any, ...]]:
    return rows(con, f"""
        select visit_number, deal_stage, stage_category, entered_at, left_at, is_current
        from marts.deal_stage_history where deal_crm_id = {deal} order by visit_number""")


def test_a_build_without_changes_adds_no_snapshot_rows(history: dict[str, Any]) -> None:
    first = history["first"]
    assert first["snapshot"] > first["deals"] > 0
    assert history["unchanged"] == first["snapshot"]
    # the first build seeds one visit per deal, its current stage
    assert first["visits"] == first["deals"]


def test_stage_history_tells_each_move(history: dict[str, Any]) -> None:
    done, before = history["done"], history["entered_before"]
    with duckdb.connect(str(history["path"]), read_only=True) as con:
        for name, stage, category in [
            ("moved_on", "Negotiation", "open"),
            ("skipped", "Closed-Won", "won"),
            ("lost", "Closed-Lost", "lost"),
        ]:
            deal = done[name]
            moved_at = naive_utc(deal["stage_updated_time"])
            assert visits_of(con, deal["id"]) == [
                (1, "Prospecting", "open", before[deal["id"]], moved_at, False),
                (2, stage, category, moved_at, None, True),
            ], name
        back = done["went_back"]
        moved_at = naive_utc(back["stage_updated_time"])
        assert visits_of(con, back["id"]) == [
            (1, "Negotiation", "open", before[back["id"]], moved_at, False),
            (2, "Prospecting", "open", moved_at, None, True),
        ]
        gone = done["deleted"]
        assert gone["is_deleted"] is True
        assert visits_of(con, gone["id"]) == [
            (1, "Prospecting", "open", before[gone["id"]],
             naive_utc(gone["updated_at"]), False),
        ]
        assert rows(con, f"select count(*) from marts.deals_enhanced where id = {gone['id']}") \
            == [(0,)]
        # every other deal still has its one seeded visit
        others = rows(con, f"""
            select count(*), count(distinct deal_crm_id), min(visit_number),
                max(visit_number)
            from marts.deal_stage_history
            where deal_crm_id not in ({", ".join(str(d["id"]) for d in done.values())})""")
        assert others == [(history["first"]["deals"] - 5,) * 2 + (1, 1)]


def test_pipeline_daily_counts_the_moves(history: dict[str, Any]) -> None:
    done = history["done"]
    today = naive_utc(done["skipped"]["updated_at"]).date()
    yesterday = today - timedelta(days=1)
    with duckdb.connect(str(history["path"]), read_only=True) as con:
        def day(on: date) -> dict[str, tuple[Any, ...]]:
            return {stage: tuple(rest) for stage, *rest in rows(con, f"""
                select deal_stage, open_deal_count, open_deal_value, deals_entered,
                    deals_won, won_value, deals_lost, lost_value
                from marts.pipeline_daily where date_day = date '{on}'""")}

        now, before = day(today), day(yesterday)
        current = dict(rows(con, """
            select deal_stage, count(*) from marts.deals_enhanced
            where stage_category = 'open' group by deal_stage"""))
        amount = {
            name: rows(con, f"select deal_size_base from marts.deals_enhanced"
                            f" where id = {deal['id']}")
            for name, deal in done.items()
        }
    # open deals at the end of today are the open deals of the marts now
    assert {stage: now[stage][0] for stage in current} == current
    # yesterday Prospecting also held the three deals that left it today and
    # the deleted one, and not the one that came back
    assert before["Prospecting"][0] == now["Prospecting"][0] + 4 - 1
    assert before["Negotiation"][0] == now["Negotiation"][0] - 1 + 1
    assert now["Negotiation"][2] == 1 and now["Prospecting"][2] == 1
    won_value = amount["skipped"][0][0]
    assert now["Closed-Won"][2:5] == (1, 1, won_value)
    assert now["Closed-Lost"][2:3] + now["Closed-Lost"][5:6] == (1, 1)


def test_sales_snapshot_counts_the_win(history: dict[str, Any]) -> None:
    with duckdb.connect(str(history["path"]), read_only=True) as con:
        won, deals = rows(con, """
            select won_deals_this_month, deal_count from marts.sales_snapshot""")[0]
    # the won deal has no closed_date from the CRM: it closes the day it moved
    assert won == history["first"]["won_this_month"] + 1
    assert deals == history["first"]["deals"] - 1


def test_history_is_seeded_from_the_crm_stage_time(history: dict[str, Any]) -> None:
    with duckdb.connect(str(history["path"]), read_only=True) as con:
        pairs = rows(con, """
            select h.entered_at, r.stage_updated_time, r.created_at
            from marts.deal_stage_history as h
            inner join raw.deals as r on r.id = h.deal_crm_id
            where h.visit_number = 1 and h.is_current""")  # deals never moved
    assert pairs
    for entered_at, stage_time, created_at in pairs:
        expected = naive_utc(stage_time) if stage_time else created_at.replace(tzinfo=None)
        assert entered_at == expected
