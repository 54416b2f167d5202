"""The extractor against the real sandbox over HTTP, into real DuckDB files."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from extract_helpers import Api, query, raw_rows, sandbox

ENTITIES = ("sales_accounts", "contacts", "deals")
MAIN_VIEW = {"sales_accounts": "All Accounts", "contacts": "All Contacts", "deals": "All Deals"}


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(UTC)


def _state(path: Path, table: str) -> dict[int, tuple[Any, ...]]:
    return raw_rows(path, table, "updated_at, is_deleted")


def _api_state(api: Api, entity: str) -> dict[int, tuple[Any, ...]]:
    return {i: (_utc(r["updated_at"]), r["is_deleted"])
            for i, r in api.all_records(entity).items()}


def test_full_sync_loads_every_record_within_the_request_budget(run_duckdb, db_path):
    with sandbox() as sb:
        api = Api(sb)
        summary = run_duckdb(sb)
        for entity in ENTITIES:
            assert summary["raw_counts"][entity] == sb.state.gen.sizes[entity], entity
            for view in (MAIN_VIEW[entity], "Recycle Bin"):
                budget = max(1, math.ceil(api.view_total(entity, view) / 100))
                assert summary["list_requests"][f"{entity}/{view}"] == budget, view
        assert summary["raw_counts"]["deal_stages"] == len(api.get("selector/deal_stages")
                                                           ["deal_stages"])
        ids = query(db_path, "select count(*), count(distinct id) from raw.deals")[0]
        assert ids[0] == ids[1]


def test_values_round_trip(run_duckdb, db_path):
    with sandbox() as sb:
        api = Api(sb)
        run_duckdb(sb)
        deals = api.all_records("deals")
        numeric = next(d for d in deals.values() if isinstance(d["amount"], int | float))
        text = next(d for d in deals.values() if isinstance(d["amount"], str)
                    and not d["amount"].endswith(".0"))
        for deal in (numeric, text):
            row = query(db_path, f"""
                select amount, updated_at, created_at, custom_field__cf_deal_id,
                       custom_field__cf_deal_stage, expected_close, is_deleted, owner_id
                from raw.deals where id = {deal['id']}""")[0]
            assert row[0] == Decimal(str(deal["amount"])), deal["amount"]
            assert row[1] == _utc(deal["updated_at"])
            assert row[1].utcoffset().total_seconds() == 0
            assert row[2] == _utc(deal["created_at"])
            assert row[3] == deal["custom_field"]["cf_deal_id"]
            assert row[4] == deal["custom_field"]["cf_deal_stage"]
            assert str(row[5]) == deal["expected_close"]
            assert row[6] == deal["is_deleted"]
            owner = api.get(f"deals/{deal['id']}", include="owner")["deal"]["owner_id"]
            assert owner is not None and row[7] == owner  # listed only with include=owner
        account = next(iter(api.all_records("sales_accounts").values()))
        row = query(db_path, f"""select custom_field__cf_account_id, custom_field__cf_account_value,
                                        annual_revenue from raw.sales_accounts
                                 where id = {account['id']}""")[0]
        cf = account["custom_field"]
        assert row[0] == str(cf["cf_account_id"])
        assert row[1] == (None if cf["cf_account_value"] is None else str(cf["cf_account_value"]))
        columns = dict(query(db_path, """select column_name, data_type
            from information_schema.columns where table_schema = 'raw'
            and table_name = 'contacts'"""))
        assert columns["updated_at"] == "TIMESTAMP WITH TIME ZONE"
        assert columns["emails"] == "JSON"
        assert columns["custom_field__cf_last_contacted_date"] == "VARCHAR"
        assert columns["_extracted_at"] == "TIMESTAMP WITH TIME ZONE"


def test_second_run_without_changes_writes_nothing_and_reads_one_page_per_view(
        run_duckdb, db_path):
    with sandbox() as sb:
        run_duckdb(sb)
        before = {t: raw_rows(db_path, t, "_extracted_at") for t in ENTITIES}
        summary = run_duckdb(sb)
        for entity in ENTITIES:
            assert summary["rows_loaded"].get(entity, 0) == 0
            assert raw_rows(db_path, entity, "_extracted_at") == before[entity]
        for entity, view in MAIN_VIEW.items():
            assert summary["scan_mode"][f"{entity}/{view}"] == "incremental"
        assert all(n == 1 for n in summary["list_requests"].values()), summary["list_requests"]


def test_changed_records_stay_within_budget_and_show_in_raw(run_duckdb, db_path):
    with sandbox() as sb:
        api = Api(sb)
        run_duckdb(sb)
        changed = api.mutate(entity="deals", count=250)["ids"]
        deleted = api.mutate(entity="contacts", count=30, delete=True)["ids"]
        summary = run_duckdb(sb)
        assert summary["list_requests"]["deals/All Deals"] <= math.ceil(250 / 100) + 1
        assert summary["list_requests"]["contacts/Recycle Bin"] <= 2
        assert summary["rows_loaded"]["deals"] == 250
        for entity in ("deals", "contacts"):
            assert _state(db_path, entity) == _api_state(api, entity)
        amounts = raw_rows(db_path, "deals", "amount")
        for deal_id in changed[:20]:
            assert amounts[deal_id][0] == Decimal(str(api.record("deals", deal_id)["amount"]))
        flags = raw_rows(db_path, "contacts", "is_deleted")
        assert all(flags[i] == (True,) for i in deleted)


def test_view_less_tenant_gives_the_same_data(run_duckdb, tmp_path, db_path):
    with sandbox() as sb:
        run_duckdb(sb)
    with sandbox(all_deals_view=False) as sb:
        other = tmp_path / "other.duckdb"
        summary = run_duckdb(sb, duckdb_path=other, pipelines_dir=tmp_path / "p2")
        assert summary["views"]["deals"] == ["Open Deals", "Won Deals", "Lost Deals",
                                             "Recycle Bin"]
        assert summary["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]
    columns = "name, amount, updated_at, deal_stage_id, is_deleted, custom_field__cf_deal_id"
    assert raw_rows(db_path, "deals", columns) == raw_rows(other, "deals", columns)


def test_faults_give_the_same_final_data(run_duckdb, tmp_path, db_path):
    with sandbox() as sb:
        run_duckdb(sb)
    with sandbox(rate_limit=3, fail_rate=0.1) as sb:
        other = tmp_path / "faulty.duckdb"
        summary = run_duckdb(
            sb, duckdb_path=other, pipelines_dir=tmp_path / "p2",
            source_options={"request_max_retry_delay_s": 1.0, "request_max_attempts": 10},
        )
        assert summary["status_5xx"] > 0
        assert summary["status_429"] + summary["rate_limit_wait_s"] > 0
    for table in ENTITIES:
        columns = "updated_at, is_deleted, custom_field__cf_region" if table == "sales_accounts" \
            else "updated_at, is_deleted"
        assert raw_rows(db_path, table, columns) == raw_rows(other, table, columns), table


def test_changes_while_paging_are_not_missed(run_duckdb, db_path):
    """Edits and deletes during a full sync: nothing untouched is skipped in
    that run, and the next run brings raw to the CRM's state."""
    with sandbox(latency_ms=15, deals=1500) as sb:
        api = Api(sb)
        untouched = set(api.all_records("deals"))
        touched: set[int] = set()
        stop = threading.Event()

        def churn() -> None:
            time.sleep(0.3)
            while not stop.is_set():
                # Edits move records to the front; deletes shift later records up.
                touched.update(api.mutate(entity="deals", count=3)["ids"])
                touched.update(api.mutate(entity="deals", count=2, delete=True)["ids"])
                time.sleep(0.05)

        worker = threading.Thread(target=churn)
        worker.start()
        try:
            summary = run_duckdb(sb, concurrency=2)
        finally:
            stop.set()
            worker.join()
        assert touched, "the churn thread changed nothing during the run"
        loaded = set(raw_rows(db_path, "deals", "name"))
        missing = (untouched - touched) - loaded
        assert not missing, f"{len(missing)} untouched records skipped"
        assert summary["gap_rereads"] > 0
        run_duckdb(sb)
        assert _state(db_path, "deals") == _api_state(api, "deals")


def test_other_crm_starts_with_a_full_sync(run_duckdb, db_path):
    with sandbox() as sb:
        run_duckdb(sb)
    with sandbox(seed=7, deals=900) as sb:
        summary = run_duckdb(sb)
        assert set(summary["scan_mode"].values()) == {"full"}
        assert summary["rows_loaded"]["deals"] == 900


def test_full_refresh_reloads_from_scratch(run_duckdb, db_path):
    with sandbox() as sb:
        run_duckdb(sb)
        started = datetime.now(UTC)
        summary = run_duckdb(sb, full_refresh=True)
        assert set(summary["scan_mode"].values()) == {"full"}
        assert summary["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]
        oldest = query(db_path, "select min(_extracted_at) from raw.deals")[0][0]
        assert oldest >= started


def test_view_names_come_from_dlt_config(run_duckdb, monkeypatch):
    monkeypatch.setenv("SOURCES__FRESHSALES__ALL_VIEWS", '{"deals": "Every Deal"}')
    with sandbox(view_names={"deals:all": "Every Deal"}) as sb:
        summary = run_duckdb(sb)
        assert summary["views"]["deals"] == ["Every Deal", "Recycle Bin"]
        assert summary["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]


def test_single_entity_run_as_the_write_back_resync_does(run_duckdb, db_path):
    with sandbox() as sb:
        api = Api(sb)
        run_duckdb(sb)
        changed = api.mutate(entity="deals", count=5)["ids"]
        api.mutate(entity="contacts", count=5)
        summary = run_duckdb(sb, source_options={"entities": ["deals"], "selectors": []})
        assert set(summary["list_requests"]) == {"deals/All Deals", "deals/Recycle Bin"}
        assert summary["rows_loaded"] == {"deals": 5}
        assert summary["raw_counts"]["owners"] == len(api.get("selector/owners")["users"])
        stamps = raw_rows(db_path, "deals", "updated_at")
        assert all(stamps[i][0] == _utc(api.record("deals", i)["updated_at"]) for i in changed)
        later = run_duckdb(sb)  # the contacts changed meanwhile are still picked up
        assert later["rows_loaded"]["contacts"] == 5
