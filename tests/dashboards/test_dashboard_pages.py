"""Every page of the dashboard run by Streamlit's AppTest on marts that dbt
built from the sandbox: the figures shown equal SQL on the marts, filters
change them as they should, and empty or missing marts say "No data yet"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dashboard_support import DEMO, build_marts
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PAGES = ("pages/overview.py", "pages/deal_value.py", "pages/accounts.py",
         "pages/owner_performance.py", "pages/pipeline.py", "pages/stage_history.py",
         "pages/activities.py", "pages/data_quality.py")
DATA_QUALITY = PAGES[-1]
# deals_enhanced: amounts in the base currency, stage categories, close dates, owners
DEALS = ("marts.deals_enhanced as e join marts.accounts as a using (account_id)")

Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
def sql(marts_duckdb: Path) -> Sql:
    def run(query: str, *params: Any) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(marts_duckdb), read_only=True) as con:
            return con.execute(query, list(params)).fetchall()

    return run


@pytest.fixture
def app(marts_duckdb: Path, dashboard_env: Any) -> AppTest:
    dashboard_env(marts_duckdb)
    return AppTest.from_file(APP, default_timeout=60).run()


def open_page(app: AppTest, page: str) -> AppTest:
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def money(value: Decimal | float | None) -> str:
    return f"{value or 0:,.2f}"


def table(app: AppTest, first_column: str) -> list[tuple[Any, ...]]:
    """The rows of the dataframe whose first column is `first_column`."""
    for frame in app.dataframe:
        value = frame.value
        if list(value.columns)[0] == first_column:
            return [tuple(row) for row in value.itertuples(index=False)]
    raise AssertionError(f"no table starting with {first_column!r}")


def reporting_month(sql: Sql) -> datetime:
    """The month the default date range ends in: that of the deals' last change."""
    [(month,)] = sql("select date_trunc('month', max(greatest(created_at, updated_at)))"
                     " from marts.deals")
    return month


def test_overview_figures_equal_the_marts(app: AppTest, sql: Sql) -> None:
    open_page(app, PAGES[0])
    shown = metrics(app)
    [(pipeline, open_deals, won, lost)] = sql(
        "select sum(deal_size_base) filter (where stage_category = 'open'),"
        " count(*) filter (where stage_category = 'open'),"
        " count(*) filter (where stage_category = 'won'),"
        " count(*) filter (where stage_category = 'lost') from marts.deals_enhanced")
    month = reporting_month(sql)
    [(won_month, won_value, lost_month, lost_value)] = sql(
        "select count(*) filter (where stage_category = 'won'),"
        " sum(deal_size_base) filter (where stage_category = 'won'),"
        " count(*) filter (where stage_category = 'lost'),"
        " sum(deal_size_base) filter (where stage_category = 'lost')"
        " from marts.deals_enhanced where date_trunc('month', close_date) = ?", month)
    name = f"{month:%B %Y}"
    assert shown["Pipeline value (USD)"] == money(pipeline)
    assert shown["Open deals"] == f"{open_deals:,}"
    assert shown["Win rate"] == f"{won / (won + lost):.1%}"
    assert shown[f"Won in {name}"] == f"{won_month:,}"
    assert shown[f"Won value in {name} (USD)"] == money(won_value)
    assert shown[f"Lost in {name}"] == f"{lost_month:,}"
    assert shown[f"Lost value in {name} (USD)"] == money(lost_value)
    assert won_month > 0 and lost_month > 0
    stages = sql("select deal_stage, count(*), sum(deal_size_base)"
                 " from marts.deals_enhanced group by deal_stage")
    assert sorted(table(app, "Stage")) == sorted(
        (stage, n, pytest.approx(float(value))) for stage, n, value in stages)
    # the currency is the marts' base currency
    assert sql("select distinct base_currency_code from marts.deals_enhanced") == [("USD",)]


def test_amounts_are_in_the_base_currency(dashboard_env: Any,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    """A tenant selling 30% of its deals in other currencies: the overview sums
    the deals' base-currency amounts, never euros with dollars."""
    path = build_marts(replace(DEMO, foreign_currency_share=0.3),
                       tmp_path_factory.mktemp("currencies"))
    with duckdb.connect(str(path), read_only=True) as con:
        [(base, own, currencies)] = con.execute(
            "select sum(e.deal_size_base), sum(d.deal_size),"
            " count(distinct d.currency_code) from marts.deals_enhanced as e"
            " join marts.deals as d using (id) where e.stage_category = 'open'").fetchall()
    assert currencies > 1 and base != own
    dashboard_env(path)
    app = open_page(AppTest.from_file(APP, default_timeout=60).run(), PAGES[0])
    assert metrics(app)["Pipeline value (USD)"] == money(base)


def test_overview_region_and_owner_filters(app: AppTest, sql: Sql) -> None:
    open_page(app, PAGES[0])
    app.multiselect(key="regions").set_value(["Europe"]).run()
    [(pipeline, open_deals)] = sql(
        f"select sum(e.deal_size_base), count(*) from {DEALS}"
        " where a.region = 'Europe' and e.stage_category = 'open'")
    shown = metrics(app)
    assert shown["Pipeline value (USD)"] == money(pipeline)
    assert shown["Open deals"] == f"{open_deals:,}"
    [(everywhere,)] = sql("select count(*) from marts.deals_enhanced"
                          " where stage_category = 'open'")
    assert open_deals < everywhere
    [(owner,)] = sql("select min(owner_name) from marts.deals_enhanced")
    app.multiselect(key="owners").set_value([owner]).run()
    [(pipeline, open_deals)] = sql(
        f"select sum(e.deal_size_base), count(*) from {DEALS}"
        " where a.region = 'Europe' and e.owner_name = ? and e.stage_category = 'open'",
        owner)
    shown = metrics(app)
    assert shown["Pipeline value (USD)"] == money(pipeline)
    assert shown["Open deals"] == f"{open_deals:,}"
    # the filters hold on the next page
    open_page(app, PAGES[2])
    assert app.multiselect(key="owners").value == [owner]
    assert app.multiselect(key="regions").value == ["Europe"]


def test_overview_date_range(app: AppTest, sql: Sql) -> None:
    """A narrower range counts the deals created in it; its end month is the
    month of won and lost deals."""
    open_page(app, PAGES[0])
    start, end = datetime(2024, 1, 1).date(), datetime(2024, 6, 30).date()
    app.date_input(key="date_range").set_value((start, end)).run()
    [(pipeline, won, lost)] = sql(
        "select sum(deal_size_base) filter (where stage_category = 'open'),"
        " count(*) filter (where stage_category = 'won'),"
        " count(*) filter (where stage_category = 'lost') from marts.deals_enhanced"
        " where created_at >= ? and created_at < date '2024-07-01'", start)
    [(won_june,)] = sql("select count(*) from marts.deals_enhanced"
                        " where stage_category = 'won'"
                        " and close_date between date '2024-06-01' and date '2024-06-30'")
    shown = metrics(app)
    assert shown["Pipeline value (USD)"] == money(pipeline)
    assert shown["Win rate"] == f"{won / (won + lost):.1%}"
    assert shown["Won in June 2024"] == f"{won_june:,}"


def test_deal_value_over_time_per_grain_and_breakdown(app: AppTest, sql: Sql) -> None:
    open_page(app, PAGES[1])
    [(total, sized)] = sql("select sum(deal_size_base),"
                           " count(deal_size_base) from marts.deals_enhanced")
    for grain, kind in (("Month", "monthly"), ("Week", "weekly"), ("Day", "daily")):
        app.radio(key="grain").set_value(grain).run()
        shown = metrics(app)
        [(periods,)] = sql("select count(distinct aggregation_date) from"
                           " marts.deal_aggregations where aggregation_type = ?", kind)
        assert shown["Deal value (USD)"] == money(total), grain
        assert shown["Deals with a size"] == f"{sized:,}"
        assert shown[f"{grain}s with deals"] == f"{periods:,}"
    per_industry = sql(
        "select a.industry, sum(g.total_deal_size), sum(g.deal_count)"
        " from marts.deal_aggregations as g join marts.accounts as a using (account_id)"
        " where g.aggregation_type = 'monthly' group by a.industry")
    app.radio(key="grain").set_value("Month").run()
    app.radio(key="breakdown").set_value("Industry").run()
    assert sorted(table(app, "Industry")) == sorted(
        (name, pytest.approx(float(value)), n) for name, value, n in per_industry)
    app.radio(key="breakdown").set_value("Account").run()
    accounts = table(app, "Account")
    assert accounts[-1][0] == "Other accounts"
    assert len(accounts) == 9
    assert sum(value for _, value, _ in accounts) == pytest.approx(float(total))


def test_accounts_page(app: AppTest, sql: Sql) -> None:
    open_page(app, PAGES[2])
    top = sql(
        "select a.account_id, a.account_name, sum(e.deal_size_base) as value,"
        f" count(*) from {DEALS} group by all order by value desc, a.account_name limit 10")
    shown = table(app, "Account id")
    assert [(row[0], row[1], row[4]) for row in shown] == [
        (account_id, name, n) for account_id, name, _, n in top]
    assert [row[5] for row in shown] == [pytest.approx(float(v)) for *_, v, _ in top]
    regions = sql(
        "select region, count(*), sum(account_value) from marts.accounts group by region")
    assert sorted(row[:3] for row in table(app, "Region")) == sorted(
        (region, n, pytest.approx(float(value))) for region, n, value in regions)
    # One account: the top one by default, any other when picked.
    top_id = top[0][0]
    [(deals_of_top,)] = sql("select count(*) from marts.deals where account_id = ?", top_id)
    [(contacts_of_top,)] = sql("select count(*) from marts.contacts where account_id = ?",
                               top_id)
    assert app.selectbox(key="account").value == top_id
    assert metrics(app)["Deals"] == f"{deals_of_top:,}"
    assert len(table(app, "First name")) == contacts_of_top > 0
    [(other, region, deals_of_other)] = sql(
        "select a.account_id, a.region, count(d.deal_id) from marts.accounts as a"
        " left join marts.deals as d using (account_id) where a.account_id <> ?"
        " group by all order by a.account_id limit 1", top_id)
    app.selectbox(key="account").set_value(other).run()
    assert metrics(app)["Deals"] == f"{deals_of_other:,}"
    assert metrics(app)["Region"] == region
    assert len(table(app, "Deal id")) == deals_of_other


def test_data_quality_page(app: AppTest, sql: Sql) -> None:
    open_page(app, DATA_QUALITY)
    shown = metrics(app)
    fates = table_rows(app, "Kept")
    assert {row[0] for row in fates} >= {"accounts", "contacts", "deals"}
    for entity, kept, rejected, deleted in fates:
        raw_name = "sales_accounts" if entity == "accounts" else entity
        assert sql(f"select count(*) from marts.{entity}") == [(kept,)], entity
        assert sql("select count(*) from marts.rejected_records where entity = ?",
                   raw_name) == [(rejected,)], entity
        if entity in ("accounts", "contacts", "deals"):
            assert sql(f"select count(*) from raw.{raw_name} where is_deleted") == [
                (deleted,)], entity
    assert shown["Kept in the marts"] == f"{sum(row[1] for row in fates):,}"
    assert shown["Rejected"] == f"{sum(row[2] for row in fates):,}"
    assert shown["Deleted in the CRM"] == f"{sum(row[3] for row in fates):,}"
    [(rejected_total,)] = sql("select count(*) from marts.rejected_records")
    assert shown["Rejected"] == f"{rejected_total:,}"
    assert sum(row[3] for row in fates) > 0
    [(synced,)] = sql("select max(inserted_at) from raw._dlt_loads where status = 0")
    assert shown["Last sync (UTC)"] == f"{synced.astimezone(UTC):%Y-%m-%d %H:%M}"
    reasons = sql(
        "select entity, case when reason like 'duplicate_of:%' then 'duplicate_of'"
        " else reason end as r, count(*) from marts.rejected_records group by all")
    assert sorted(table_rows(app, "Reason")) == sorted(reasons)
    fresh = {row[0]: row for row in table_rows(app, "Status")}
    assert set(fresh) == {"accounts", "contacts", "deals"}
    assert all(row[4] == "fresh" for row in fresh.values())


def test_owner_performance_page(app: AppTest, sql: Sql) -> None:
    open_page(app, PAGES[3])
    shown = metrics(app)
    # the months of the default range: first creation to last change
    [(first, last)] = sql("select date_trunc('month', min(created_at)),"
                          " max(greatest(created_at, updated_at)) from marts.deals")
    in_range = f"from marts.owner_performance where month_start between '{first}' and '{last}'"
    [(bookings, won, lost, pipeline)] = sql(
        "select sum(bookings), sum(won_deal_count), sum(lost_deal_count),"
        f" sum(open_pipeline_value) {in_range}")
    [(later,)] = sql("select count(*) from marts.owner_performance where month_start > ?",
                     last)
    assert later > 0  # open deals expected to close after the range: not counted
    assert shown["Bookings (USD)"] == money(bookings)
    assert shown["Deals won"] == f"{won:,}"
    assert shown["Win rate"] == f"{won / (won + lost):.1%}"
    assert shown["Open pipeline (USD)"] == money(pipeline)
    per_owner = sql("select owner_name, sum(won_deal_count), sum(bookings)"
                    f" {in_range} group by owner_id, owner_name")
    assert sorted(row[:3] for row in table(app, "Owner")) == sorted(
        (name, n, pytest.approx(float(value))) for name, n, value in per_owner)
    # bookings are the deals won, by close date, in the base currency
    [(won_value,)] = sql("select sum(deal_size_base) from marts.deals_enhanced"
                         " where stage_category = 'won'")
    assert bookings == won_value


def test_pipeline_over_time_page(app: AppTest, sql: Sql) -> None:
    open_page(app, PAGES[4])
    [(end,)] = sql("select max(greatest(created_at, updated_at))::date from marts.deals")
    [(last_day,)] = sql("select max(date_day) from marts.pipeline_daily where date_day <= ?",
                        end)
    [(open_value, open_deals)] = sql(
        "select sum(open_deal_value), sum(open_deal_count) from marts.pipeline_daily"
        " where date_day = ? and stage_category = 'open'", last_day)
    [(won, won_value, lost)] = sql(
        "select sum(deals_won), sum(won_value), sum(deals_lost) from marts.pipeline_daily"
        " where date_day <= ?", end)
    shown = metrics(app)
    assert shown[f"Open pipeline on {last_day:%d %b %Y} (USD)"] == money(open_value)
    assert shown["Open deals"] == f"{open_deals:,}"
    assert shown["Won in the range (USD)"] == money(won_value)
    assert shown["Deals won / lost"] == f"{won:,} / {lost:,}"


def test_stage_history_page(app: AppTest, sql: Sql) -> None:
    open_page(app, PAGES[5])
    per_stage = sql("select deal_stage, count(*), count(distinct deal_crm_id),"
                    " count(*) filter (where is_current) from marts.deal_stage_history"
                    " group by deal_stage")
    shown = metrics(app)
    assert shown["Stage visits"] == f"{sum(row[1] for row in per_stage):,}"
    assert sorted(row[:4] for row in table(app, "Stage")) == sorted(per_stage)


def test_activities_page(app: AppTest, sql: Sql) -> None:
    open_page(app, PAGES[6])
    [(first, last)] = sql("select min(created_at)::date,"
                          " max(greatest(created_at, updated_at))::date + 1 from marts.deals")
    counts = {}
    for kind, mart, column in (("Tasks", "tasks", "due_at"),
                               ("Appointments", "appointments", "starts_at"),
                               ("Sales activities", "sales_activities", "starts_at")):
        [(counts[kind],)] = sql(f"select count(*) from marts.{mart}"
                                f" where {column} >= ? and {column} < ?", first, last)
    [(done,)] = sql("select count(*) from marts.tasks where completed_at is not null"
                    " and due_at >= ? and due_at < ?", first, last)
    shown = metrics(app)
    for kind, count in counts.items():
        assert shown[kind] == f"{count:,}", kind
    assert shown["Tasks completed"] == f"{done / counts['Tasks']:.1%}"
    per_owner = table(app, "Owner")
    assert sum(sum(row[1:]) for row in per_owner) == sum(counts.values())
    # one owner: every figure is that owner's
    [(owner, tasks)] = sql("select u.display_name, count(*) from marts.tasks as t"
                           " join marts.users as u on t.owner_id = u.id"
                           " where t.due_at >= ? and t.due_at < ?"
                           " group by 1 order by 1 limit 1", first, last)
    app.multiselect(key="owners").set_value([owner]).run()
    assert metrics(app)["Tasks"] == f"{tasks:,}"


def table_rows(app: AppTest, column: str) -> list[tuple[Any, ...]]:
    """The rows of the dataframe that has a column named `column`."""
    for frame in app.dataframe:
        if column in frame.value.columns:
            return [tuple(row) for row in frame.value.itertuples(index=False)]
    raise AssertionError(f"no table with a column {column!r}")


def test_empty_marts_say_no_data_yet(empty_marts_duckdb: Path, dashboard_env: Any) -> None:
    dashboard_env(empty_marts_duckdb)
    app = AppTest.from_file(APP, default_timeout=60).run()
    for page in PAGES:
        open_page(app, page)
        texts = [info.value for info in app.info]
        assert any(text.startswith("No data yet") for text in texts), (page, texts)
        assert not app.metric or page == DATA_QUALITY, page
    # The empty CRM was synced: the data quality page still shows when.
    assert "Last sync (UTC)" in metrics(app)


def test_missing_warehouse_says_no_data_yet(tmp_path: Path, dashboard_env: Any) -> None:
    dashboard_env(tmp_path / "not-built.duckdb")
    app = AppTest.from_file(APP, default_timeout=60).run()
    for page in PAGES:
        open_page(app, page)
        texts = [info.value for info in app.info]
        assert any("not-built.duckdb does not exist" in text for text in texts), (page, texts)
    assert not (tmp_path / "not-built.duckdb").exists()
