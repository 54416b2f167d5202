"""One set of numbers: the dashboard's bookings and deals won equal the marts'
and the semantic layer's (`mf query`, MetricFlow) for the same period, and
its deal value per month equals MetricFlow's total_deal_size."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from streamlit.testing.v1 import AppTest
from test_dashboard_pages import APP, PAGES, metrics, money, open_page, reporting_month
from test_dbt_metrics import SemanticLayer, as_number


def test_dashboard_marts_and_metrics_agree(marts_duckdb: Path, dashboard_env: Any,
                                           tmp_path: Path) -> None:
    copy = tmp_path / "crm.duckdb"  # MetricFlow opens the file for writing
    shutil.copy(marts_duckdb, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        def sql(query: str, *params: Any) -> list[tuple[Any, ...]]:
            return con.execute(query, list(params)).fetchall()

        month = reporting_month(sql).date()
        [(won, bookings)] = sql(
            "select count(*), sum(deal_size_base) from marts.deals_enhanced"
            " where stage_category = 'won' and date_trunc('month', close_date) = ?", month)
        [(owner_won, owner_bookings)] = sql(
            "select sum(won_deal_count), sum(bookings) from marts.owner_performance"
            " where month_start = ?", month)
        [(all_bookings,)] = sql("select sum(bookings) from marts.owner_performance")
        [(total_deal_size,)] = sql(
            "select sum(total_deal_size) from marts.deal_aggregations"
            " where aggregation_type = 'monthly'")
    assert (won, bookings) == (owner_won, owner_bookings) and won > 0

    # the semantic layer, on the same file
    layer = SemanticLayer(tmp_path / "mf", {"DUCKDB_PATH": str(copy), "DBT_TARGET": "duckdb"})
    by_month = layer.query(("bookings", "won_deal_count", "total_deal_size"), "month")
    assert as_number(by_month[month]["bookings"]) == bookings
    assert as_number(by_month[month]["won_deal_count"]) == won
    mf_bookings = sum((as_number(row["bookings"]) or Decimal(0) for row in by_month.values()),
                      Decimal(0))
    mf_total = sum((as_number(row["total_deal_size"]) or Decimal(0)
                    for row in by_month.values()), Decimal(0))
    assert mf_bookings == all_bookings
    assert mf_total == total_deal_size

    # the dashboard, on the same file
    dashboard_env(copy)
    app = AppTest.from_file(APP, default_timeout=60).run()
    open_page(app, PAGES[0])
    shown = metrics(app)
    name = f"{month:%B %Y}"
    assert shown[f"Won in {name}"] == f"{won:,}"
    assert shown[f"Won value in {name} (USD)"] == money(bookings)
    open_page(app, PAGES[3])
    assert metrics(app)["Bookings (USD)"] == money(mf_bookings)
    open_page(app, PAGES[1])
    assert metrics(app)["Deal value (USD)"] == money(mf_total)
    assert isinstance(month, date)
