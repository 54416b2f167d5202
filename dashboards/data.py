"""Every query of the dashboard, in one place, read-only.

The dashboard reads the marts where the rest of the project writes them: the
DuckDB file (DUCKDB_PATH) by default, PostgreSQL with DBT_TARGET=postgres and
the PG* settings, through the tools' connection layer (`extract.tools.db`), so
`.env`, DATABASE_URL and DBT_SCHEMA_PREFIX mean what they mean everywhere.
DuckDB is opened read-only and only for the length of one query, so a running
`make build` is never blocked for long by an open dashboard.

Filters reach the SQL only as bound parameters (`?`). The few identifiers in
the SQL (schema names from the settings, the breakdown column picked from a
fixed list) never come from what a user types.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from extract.tools.db import (
    Target,
    ToolError,
    connect,
    marts_schema,
    quote_ident,
    raw_schema,
    target_from_env,
)

# Amounts are in the CRM account's base currency (`deals_enhanced.
# deal_size_base`, `deal_aggregations`): its code is read from the marts;
# this is the name shown when the marts have no deal to read it from.
CURRENCY = "base currency"
# Stages in the order a deal moves through them: open, then won, then lost.
CATEGORY_ORDER = {"open": 0, "won": 1, "lost": 2}
GRAINS = {"Day": "daily", "Week": "weekly", "Month": "monthly"}
# Breakdown of deal value over time: a label -> a fixed expression on `accounts`
# (account names are not unique in a CRM: the business key tells them apart).
BREAKDOWNS = {
    "Region": "a.region",
    "Industry": "a.industry",
    "Account": "a.account_name || ' (' || cast(a.account_id as varchar) || ')'",
}
# Accounts shown one by one in the account breakdown; the rest add up to one line.
TOP_ACCOUNTS = 8
OTHER_ACCOUNTS = "Other accounts"
ENTITIES = {"sales_accounts": "accounts", "contacts": "contacts", "deals": "deals"}
# dbt's source freshness warns after a day without a load (_freshsales__sources.yml).
FRESH_FOR = timedelta(days=1)


class NoData(Exception):
    """Nothing to show yet: the warehouse, a table or its rows are missing."""


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects: deals created from `start` to `end` (both
    included), in these regions (none selected: every region)."""

    start: date
    end: date
    regions: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

    @property
    def month(self) -> date:
        """The reporting month: the calendar month the range ends in."""
        return self.end.replace(day=1)

    @property
    def month_end(self) -> date:
        """The first day after the reporting month."""
        return (self.month + timedelta(days=32)).replace(day=1)

    def params(self) -> list[Any]:
        """The bound values of `DEALS_IN_SCOPE`'s placeholders, in order."""
        return [self.start, self.end + timedelta(days=1), *self.who()]

    def who(self) -> list[Any]:
        """The bound values of `WHO` (the region and owner filters)."""
        return [not self.regions, list(self.regions), not self.owners, list(self.owners)]


@dataclass(frozen=True)
class Warehouse:
    """Where the marts are read: the target and the schemas dbt builds."""

    target: Target
    marts: str = field(default_factory=marts_schema)
    intermediate: str = field(
        default_factory=lambda: (os.environ.get("DBT_SCHEMA_PREFIX") or "") + "intermediate"
    )
    raw: str = field(default_factory=raw_schema)

    @classmethod
    def from_env(cls) -> Warehouse:
        try:
            return cls(target_from_env())
        except ToolError as exc:
            raise NoData(str(exc)) from None

    def describe(self) -> str:
        """Where the marts are read, a DuckDB file inside the project relative to it."""
        where = self.target.describe()
        if self.target.kind == "duckdb":
            from extract.config import REPO_ROOT

            path = Path(self.target.duckdb_path)
            where = str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)
        return f"{where} (schema {self.marts})"

    def sql(self, text: str) -> str:
        """`text` with {marts}, {intermediate} and {raw} as quoted schema names."""
        return text.format(
            marts=quote_ident(self.marts),
            intermediate=quote_ident(self.intermediate),
            raw=quote_ident(self.raw),
        )

    def query(self, text: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run one read-only query; NoData when the warehouse or a table is missing."""
        sql = self.sql(text)
        try:
            with connect(self.target, read_only=True) as db:
                if db.kind == "postgres":
                    sql = sql.replace("?", "%s")
                try:
                    names, rows = db.fetch(sql, params)
                except Exception as exc:  # noqa: BLE001 - the engines' own error classes
                    problem = _unreadable(exc)
                    if problem is None:
                        raise
                    raise NoData(f"{problem} in {self.describe()}") from None
        except ToolError as exc:
            raise NoData(str(exc)) from None
        return pd.DataFrame.from_records(rows, columns=names)

    def tables(self, schema: str) -> set[str]:
        try:
            with connect(self.target, read_only=True) as db:
                return set(db.tables(schema))
        except ToolError as exc:
            raise NoData(str(exc)) from None


def _unreadable(exc: Exception) -> str | None:
    """What keeps a query from the data (a missing table, no permission), or
    None for any other error (a bug: raised as is)."""
    text = str(exc).lower()
    if "does not exist" in text or "catalog error" in text:
        return "a table is missing"
    if "permission denied" in text:
        return "no permission to read a table (the BI role reads the marts only)"
    return None


# The region and owner filters on `deals_enhanced as e` joined to `accounts as a`.
# Placeholders (Filters.who()): every region?, regions, every owner?, owners.
WHO = """(? or a.region = any(cast(? as varchar[])))
      and (? or e.owner_name = any(cast(? as varchar[])))"""
# Deals created in the range, in the regions, of the owners, with their account's
# columns; `amount` is the deal's size in the base currency.
# Placeholders (Filters.params()): start, end (exclusive), then WHO's.
DEALS_IN_SCOPE = f"""
    select
        e.deal_id,
        e.deal_name,
        e.deal_size_base as amount,
        e.deal_stage,
        e.stage_category,
        e.owner_name,
        e.close_date,
        e.created_at,
        a.account_id,
        a.account_name,
        a.region,
        a.industry
    from {{marts}}.deals_enhanced as e
    inner join {{marts}}.accounts as a on e.account_id = a.account_id
    where e.created_at >= ? and e.created_at < ?
      and {WHO}
"""


# ------------------------------------------------------------------ the sidebar


def data_span(wh: Warehouse) -> tuple[date, date] | None:
    """First deal's creation day to the last change's day; None without deals."""
    frame = wh.query(
        "select min(created_at) as first_at,"
        " max(case when updated_at > created_at then updated_at else created_at end)"
        " as last_at from {marts}.deals"
    )
    first, last = frame.iloc[0]["first_at"], frame.iloc[0]["last_at"]
    if first is None or pd.isna(first):
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def regions(wh: Warehouse) -> list[str]:
    frame = wh.query("select distinct region from {marts}.accounts order by region")
    return [str(value) for value in frame["region"]]


def owners(wh: Warehouse) -> list[str]:
    """The deal owners' names (`deals_enhanced.owner_name`)."""
    frame = wh.query(
        "select distinct owner_name from {marts}.deals_enhanced"
        " where owner_name is not null order by owner_name"
    )
    return [str(value) for value in frame["owner_name"]]


def currency(wh: Warehouse) -> str:
    """The code of the base currency every amount is in (e.g. USD)."""
    frame = wh.query(
        "select distinct base_currency_code as code from {marts}.deals_enhanced"
        " where base_currency_code is not null"
    )
    codes = [str(code) for code in frame["code"]]
    return codes[0] if len(codes) == 1 else CURRENCY


# ------------------------------------------------------------------ overview


def overview(wh: Warehouse, flt: Filters) -> dict[str, Any]:
    """Pipeline value and win rate of the deals created in the range, deals won
    and lost in the reporting month, and deals per stage."""
    frame = wh.query(
        f"""
        with scoped as ({DEALS_IN_SCOPE})
        select
            count(*) as deals,
            count(*) filter (where stage_category = 'open') as open_deals,
            coalesce(sum(amount) filter (where stage_category = 'open'), 0)
                as pipeline_value,
            count(*) filter (where stage_category = 'won') as won_deals,
            count(*) filter (where stage_category = 'lost') as lost_deals
        from scoped
        """,
        flt.params(),
    )
    kpis = {name: _plain(value) for name, value in frame.iloc[0].items()}
    closed = kpis["won_deals"] + kpis["lost_deals"]
    kpis["win_rate"] = kpis["won_deals"] / closed if closed else None
    kpis.update(closed_in_month(wh, flt))
    kpis["by_stage"] = deals_by_stage(wh, flt)
    return kpis


def closed_in_month(wh: Warehouse, flt: Filters) -> dict[str, Any]:
    """Deals won and lost in the reporting month (by `close_date`), whenever
    they were created: the `bookings` and `won_deal_count` of the semantic layer."""
    frame = wh.query(
        f"""
        select
            count(*) filter (where e.stage_category = 'won') as won_in_month,
            coalesce(sum(e.deal_size_base)
                filter (where e.stage_category = 'won'), 0) as won_value_in_month,
            count(*) filter (where e.stage_category = 'lost') as lost_in_month,
            coalesce(sum(e.deal_size_base)
                filter (where e.stage_category = 'lost'), 0) as lost_value_in_month
        from {{marts}}.deals_enhanced as e
        inner join {{marts}}.accounts as a on e.account_id = a.account_id
        where e.close_date >= ? and e.close_date < ?
          and {WHO}
        """,
        [flt.month, flt.month_end, *flt.who()],
    )
    return {name: _plain(value) for name, value in frame.iloc[0].items()}


def deals_by_stage(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    frame = wh.query(
        f"""
        with scoped as ({DEALS_IN_SCOPE})
        select deal_stage as stage, stage_category as category, count(*) as deals,
               coalesce(sum(amount), 0) as value
        from scoped
        group by deal_stage, stage_category
        """,
        flt.params(),
    )
    frame["order"] = frame["category"].map(CATEGORY_ORDER)
    frame = (frame.sort_values(["order", "stage"]).drop(columns=["order", "category"])
             .reset_index(drop=True))
    frame["value"] = frame["value"].astype(float)
    return frame


# ------------------------------------------------------------------ deal value over time


def value_over_time(wh: Warehouse, flt: Filters, grain: str, breakdown: str) -> pd.DataFrame:
    """`deal_aggregations` at one grain, per period and breakdown value.

    `grain` is a key of GRAINS, `breakdown` a key of BREAKDOWNS (fixed lists:
    the column name is never user text). Periods are those that overlap the
    range. Accounts beyond the top TOP_ACCOUNTS add up to one line.
    """
    label = BREAKDOWNS[breakdown]
    frame = wh.query(
        f"""
        with periods as (
            select
                g.aggregation_date as period,
                {label} as label,
                a.account_id,
                g.total_deal_size,
                g.deal_count
            from {{marts}}.deal_aggregations as g
            inner join {{marts}}.accounts as a on g.account_id = a.account_id
            where g.aggregation_type = ?
              and g.aggregation_date >= ? and g.aggregation_date <= ?
              and (? or a.region = any(cast(? as varchar[])))
        )
        select period, label, sum(total_deal_size) as value, sum(deal_count) as deals
        from periods
        group by period, label
        order by period, label
        """,
        [GRAINS[grain], period_start(flt.start, grain), flt.end, not flt.regions,
         list(flt.regions)],
    )
    frame["value"] = frame["value"].astype(float)
    frame["deals"] = frame["deals"].astype(int)
    if breakdown == "Account" and not frame.empty:
        totals = frame.groupby("label")["value"].sum().sort_values(ascending=False)
        keep = set(totals.index[:TOP_ACCOUNTS])
        frame["label"] = frame["label"].where(frame["label"].isin(keep), OTHER_ACCOUNTS)
        frame = frame.groupby(["period", "label"], as_index=False)[["value", "deals"]].sum()
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


def period_start(day: date, grain: str) -> date:
    """The first day of the period `day` falls in: itself, its Monday, its first."""
    if grain == "Week":
        return day - timedelta(days=day.weekday())
    if grain == "Month":
        return day.replace(day=1)
    return day


# ------------------------------------------------------------------ accounts


def top_accounts(wh: Warehouse, flt: Filters, limit: int = 10) -> pd.DataFrame:
    """Accounts by value of their deals created in the range (ties: by name)."""
    frame = wh.query(
        f"""
        with scoped as ({DEALS_IN_SCOPE})
        select
            account_id,
            account_name as account,
            region,
            industry,
            count(*) as deals,
            coalesce(sum(amount), 0) as deal_value,
            coalesce(sum(amount) filter (where stage_category = 'open'), 0) as pipeline,
            coalesce(sum(amount) filter (where stage_category = 'won'), 0) as won
        from scoped
        group by account_id, account_name, region, industry
        order by deal_value desc, account_name
        limit ?
        """,
        [*flt.params(), limit],
    )
    for column in ("deal_value", "pipeline", "won"):
        frame[column] = frame[column].astype(float)
    return frame


def accounts_by(wh: Warehouse, flt: Filters, column: str) -> pd.DataFrame:
    """Accounts, their value and their deals' value per region or industry."""
    if column not in ("region", "industry"):
        raise ValueError(f"no breakdown by {column}")
    frame = wh.query(
        f"""
        with scoped as ({DEALS_IN_SCOPE}),
        deal_value as (
            select account_id, sum(amount) as deal_value, count(*) as deals
            from scoped group by account_id
        )
        select
            a.{column} as {column},
            count(*) as accounts,
            sum(a.account_value) as account_value,
            coalesce(sum(v.deals), 0) as deals,
            coalesce(sum(v.deal_value), 0) as deal_value
        from {{marts}}.accounts as a
        left join deal_value as v on a.account_id = v.account_id
        where (? or a.region = any(cast(? as varchar[])))
        group by a.{column}
        order by deal_value desc, {column}
        """,
        [*flt.params(), not flt.regions, list(flt.regions)],
    )
    for name in ("account_value", "deal_value"):
        frame[name] = frame[name].astype(float)
    frame["deals"] = frame["deals"].astype(int)
    return frame


def account_choices(wh: Warehouse, flt: Filters) -> dict[int, str]:
    """account_id -> "name (id), region, industry" of the accounts in the regions.
    Names are not unique in a CRM: the id is what a choice stands for."""
    frame = wh.query(
        "select account_id, account_name, region, industry from {marts}.accounts"
        " where (? or region = any(cast(? as varchar[]))) order by account_name, account_id",
        [not flt.regions, list(flt.regions)],
    )
    return {
        int(row.account_id): f"{row.account_name} ({row.account_id}), {row.region}, "
        f"{row.industry}"
        for row in frame.itertuples()
    }


def account_detail(wh: Warehouse, account_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """One account and every one of its deals, newest first."""
    account = wh.query(
        "select account_id, account_name, region, industry, account_value, created_at"
        " from {marts}.accounts where account_id = ?",
        [account_id],
    )
    if account.empty:
        raise NoData(f"no account {account_id}")
    row = {key: _plain(value) for key, value in account.iloc[0].items()}
    deals = wh.query(
        "select deal_id, deal_name, deal_stage, deal_size_base as amount,"
        " owner_name, probability_percent, created_date, close_date"
        " from {marts}.deals_enhanced where account_id = ?"
        " order by created_at desc, deal_id",
        [row["account_id"]],
    )
    deals["amount"] = deals["amount"].astype(float)
    return row, deals


def account_contacts(wh: Warehouse, account_id: int) -> pd.DataFrame:
    """The contacts of one account (`contacts.account_id`)."""
    return wh.query(
        "select first_name, last_name, email, job_title, lead_source, last_contact_date"
        " from {marts}.contacts where account_id = ? order by last_name, first_name",
        [account_id],
    )


# ------------------------------------------------------------------ sales marts


def owner_performance(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """Per owner, `owner_performance` summed over the months of the range: won
    and lost deals by close date, bookings, and open pipeline expected to close
    in those months. The win rate is won / (won + lost) of those sums."""
    frame = wh.query(
        """
        select
            owner_name as owner,
            sum(won_deal_count) as won,
            sum(bookings) as bookings,
            sum(lost_deal_count) as lost,
            sum(lost_value) as lost_value,
            sum(open_deal_count) as open_deals,
            sum(open_pipeline_value) as open_pipeline,
            sum(sales_activity_count) as sales_activities,
            sum(appointment_count) as appointments,
            sum(completed_task_count) as completed_tasks
        from {marts}.owner_performance
        where month_start >= ? and month_start <= ?
          and (? or owner_name = any(cast(? as varchar[])))
        group by owner_id, owner_name
        order by bookings desc, owner_name
        """,
        [flt.start.replace(day=1), flt.end, not flt.owners, list(flt.owners)],
    )
    for column in ("bookings", "lost_value", "open_pipeline"):
        frame[column] = frame[column].astype(float)
    for column in ("won", "lost", "open_deals", "sales_activities", "appointments",
                   "completed_tasks"):
        frame[column] = frame[column].astype(int)
    closed = frame["won"] + frame["lost"]
    frame["win_rate"] = (frame["won"] / closed.where(closed > 0)).astype(float)
    return frame


def bookings_by_month(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """`owner_performance.bookings` per month and owner in the range."""
    frame = wh.query(
        """
        select month_start as month, owner_name as owner, sum(bookings) as bookings
        from {marts}.owner_performance
        where month_start >= ? and month_start <= ?
          and (? or owner_name = any(cast(? as varchar[])))
        group by month_start, owner_name
        order by month_start, owner_name
        """,
        [flt.start.replace(day=1), flt.end, not flt.owners, list(flt.owners)],
    )
    frame["bookings"] = frame["bookings"].astype(float)
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def pipeline_over_time(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """`pipeline_daily` per day and stage in the range, summed over pipelines."""
    frame = wh.query(
        """
        select
            date_day as day,
            deal_stage as stage,
            stage_category as category,
            sum(open_deal_count) as open_deals,
            sum(open_deal_value) as open_value,
            sum(deals_won) as won,
            sum(won_value) as won_value,
            sum(deals_lost) as lost,
            sum(lost_value) as lost_value
        from {marts}.pipeline_daily
        where date_day >= ? and date_day <= ?
        group by date_day, deal_stage, stage_category
        order by date_day, deal_stage
        """,
        [flt.start, flt.end],
    )
    for column in ("open_value", "won_value", "lost_value"):
        frame[column] = frame[column].astype(float)
    for column in ("open_deals", "won", "lost"):
        frame[column] = frame[column].astype(int)
    frame["day"] = pd.to_datetime(frame["day"])
    return frame


def stage_history(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """Per stage, the visits (`deal_stage_history`) that began in the range, of
    deals in the regions and of the owners: how many, by how many deals, how
    many are current, and the days the finished ones lasted."""
    frame = wh.query(
        f"""
        select
            h.deal_stage as stage,
            h.stage_category as category,
            count(*) as visits,
            count(distinct h.deal_crm_id) as deals,
            count(*) filter (where h.is_current) as current,
            avg(h.days_in_stage) filter (where not h.is_current) as average_days,
            max(h.days_in_stage) filter (where not h.is_current) as longest_days
        from {{marts}}.deal_stage_history as h
        inner join {{marts}}.deals_enhanced as e on h.deal_crm_id = e.id
        inner join {{marts}}.accounts as a on e.account_id = a.account_id
        where h.entered_at >= ? and h.entered_at < ?
          and {WHO}
        group by h.deal_stage, h.stage_category
        """,
        flt.params(),
    )
    frame["order"] = frame["category"].map(CATEGORY_ORDER)
    frame = frame.sort_values(["order", "stage"]).drop(columns="order").reset_index(drop=True)
    frame["average_days"] = frame["average_days"].astype(float)
    return frame


# Activities of the three activity marts on one day each: a task's due day, an
# appointment's or a sales activity's start; `done`: a completed task.
ACTIVITIES = """
    select 'Tasks' as kind, due_at as at, owner_id, task_type as type,
           completed_at is not null as done
    from {marts}.tasks
    union all
    select 'Appointments', starts_at, owner_id, outcome, false
    from {marts}.appointments
    union all
    select 'Sales activities', starts_at, owner_id, sales_activity_type, false
    from {marts}.sales_activities
"""


def activities(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """Activities per week, kind and owner in the range, of the owners."""
    frame = wh.query(
        f"""
        with activities as ({ACTIVITIES})
        select
            cast({_week('v.at')} as date) as week,
            v.kind,
            u.display_name as owner,
            count(*) as activities,
            count(*) filter (where v.done) as completed
        from activities as v
        left join {{marts}}.users as u on v.owner_id = u.id
        where v.at >= ? and v.at < ?
          and (? or u.display_name = any(cast(? as varchar[])))
        group by 1, v.kind, u.display_name
        order by 1, v.kind, u.display_name
        """,
        [flt.start, flt.end + timedelta(days=1), not flt.owners, list(flt.owners)],
    )
    for column in ("activities", "completed"):
        frame[column] = frame[column].astype(int)
    frame["week"] = pd.to_datetime(frame["week"])
    return frame


def _week(column: str) -> str:
    """The Monday of a timestamp's week (DuckDB and PostgreSQL alike)."""
    return f"date_trunc('week', {column})"


# ------------------------------------------------------------------ data quality


def rejected_by_reason(wh: Warehouse) -> pd.DataFrame:
    """Rejected records per entity and reason, `duplicate_of:<id>` counted as one reason."""
    return wh.query(
        """
        with reasons as (
            select
                entity,
                case when starts_with(reason, 'duplicate_of:') then 'duplicate_of'
                    else reason end as reason
            from {marts}.rejected_records
        )
        select entity, reason, count(*) as records
        from reasons
        group by entity, reason
        order by entity, records desc, reason
        """
    )


def record_fates(wh: Warehouse) -> pd.DataFrame:
    """Per entity: records kept in a mart, rejected, and deleted in the CRM."""
    frame = wh.query(
        """
        select
            entity,
            count(*) filter (where record_status = 'kept') as kept,
            count(*) filter (where record_status = 'rejected') as rejected,
            count(*) filter (where record_status = 'deleted') as deleted
        from {intermediate}.int_records_classified
        group by entity
        order by entity
        """
    )
    frame["entity"] = frame["entity"].map(lambda e: ENTITIES.get(e, e))
    return frame


def last_sync(wh: Warehouse) -> datetime | None:
    """When the extractor's last load finished (dlt's `_dlt_loads`), naive UTC."""
    frame = wh.query("select max(inserted_at) as at from {raw}._dlt_loads where status = 0")
    value = frame.iloc[0]["at"]
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    return (stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp).to_pydatetime()


def source_freshness(wh: Warehouse) -> pd.DataFrame:
    """Per raw entity table: the last load and the CRM's newest change."""
    parts = [
        f"select '{entity}' as entity, count(*) as records, max(_extracted_at) as loaded_at,"
        f" max(updated_at) as newest_change from {{raw}}.{entity}"
        for entity in ENTITIES
    ]
    frame = wh.query(" union all ".join(parts))
    frame["entity"] = frame["entity"].map(ENTITIES)
    for column in ("loaded_at", "newest_change"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_localize(None)
    return frame


def _plain(value: Any) -> Any:
    """numpy/Decimal scalars as plain Python numbers."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    if type(value).__name__ == "Decimal":
        return float(value)
    return value
