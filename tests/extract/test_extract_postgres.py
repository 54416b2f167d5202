"""The extractor into the real PostgreSQL (own schema per test, dropped afterwards)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from extract_helpers import Api, pg_query, sandbox

from extract.config import PgSettings
from extract.pipeline import run_extract

ENTITIES = ("sales_accounts", "contacts", "deals")


def _run(sb: Any, pg: tuple[PgSettings, str], tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    settings, dataset = pg
    return run_extract(destination="postgres", base_url=sb.base_url, api_key=sb.api_key,
                       dataset=dataset, pg_credentials=settings,
                       pipelines_dir=tmp_path / "pipelines", **kwargs)


def test_postgres_full_then_incremental(pg, tmp_path):
    settings, dataset = pg
    with sandbox() as sb:
        api = Api(sb)
        summary = _run(sb, pg, tmp_path)
        for entity in ENTITIES:
            assert summary["raw_counts"][entity] == sb.state.gen.sizes[entity]
        rows = pg_query(settings, f"""
            select count(*), count(distinct id) from "{dataset}".deals""")[0]
        assert rows[0] == rows[1] == sb.state.gen.sizes["deals"]

        deal = next(d for d in api.all_records("deals").values() if d["amount"] is not None)
        amount, updated, stage, close = pg_query(settings, f"""
            select amount, updated_at, custom_field__cf_deal_stage, expected_close
            from "{dataset}".deals where id = {deal['id']}""")[0]
        assert amount == Decimal(str(deal["amount"]))
        assert updated == datetime.fromisoformat(deal["updated_at"]).astimezone(UTC)
        assert stage == deal["custom_field"]["cf_deal_stage"]
        assert str(close) == deal["expected_close"]
        types = dict(pg_query(settings, f"""
            select column_name, data_type from information_schema.columns
            where table_schema = '{dataset}' and table_name = 'contacts'"""))
        assert types["updated_at"] == "timestamp with time zone"
        assert types["emails"] == "jsonb"
        assert types["sales_account_id"] == "bigint"

        quiet = _run(sb, pg, tmp_path)
        assert all(n == 1 for n in quiet["list_requests"].values())
        assert all(quiet["rows_loaded"].get(e, 0) == 0 for e in ENTITIES)

        changed = api.mutate(entity="deals", count=120)["ids"]
        after = _run(sb, pg, tmp_path)
        assert after["list_requests"]["deals/All Deals"] <= math.ceil(120 / 100) + 1
        assert after["rows_loaded"]["deals"] == 120
        id_list = ",".join(map(str, changed))
        stored = dict(pg_query(settings, f"""
            select id, amount from "{dataset}".deals where id in ({id_list})"""))
        for deal_id in changed[:10]:
            value = api.record("deals", deal_id)["amount"]
            assert stored[deal_id] == (None if value is None else Decimal(str(value)))
