"""What every page shares: the warehouse, the sidebar filters, number formats
and the "no data yet" message that replaces a page whose marts are empty."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar

import streamlit as st

from dashboards import data

T = TypeVar("T")
NO_DATA_HINT = "Run `make demo` (or `make extract build`), then reload this page."
# Query results are kept this long: a dashboard left open does not hold the
# DuckDB file, and a reload after a build shows the new figures within a minute.
CACHE_SECONDS = 60
# Amounts in tables: thousands separators and cents ("1,234.00").
MONEY_COLUMN = st.column_config.NumberColumn(format="accounting")


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _cached(name: str, wh: data.Warehouse, *args: Any) -> Any:
    return getattr(data, name)(wh, *args)


def fetch(function: Callable[..., T], *args: Any) -> T:
    """`data.<function>(warehouse, *args)`, cached per warehouse and arguments."""
    result: T = _cached(function.__name__, warehouse(), *args)
    return result


def warehouse() -> data.Warehouse:
    return data.Warehouse.from_env()


@contextmanager
def no_data_guard(what: str = "this page") -> Iterator[None]:
    """Show "No data yet" instead of the rest of the block when a mart is empty or missing."""
    try:
        yield
    except data.NoData as exc:
        st.info(f"No data yet for {what}: {exc}. {NO_DATA_HINT}")


def money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def sidebar_filters() -> data.Filters:
    """Draw the date range, region and owner filters and return what they select.

    Every page calls this first. A widget's value lives under its key only
    while its page shows, so each value is also kept under `_<key>` (by the
    widget's on_change) and handed to the next page's widget. Raises NoData
    (after saying so in the sidebar) when there are no deals yet.
    """
    st.sidebar.header("Filters")
    try:
        wh = warehouse()
        span = fetch(data.data_span)
        if span is None:
            raise data.NoData("the deals mart is empty")
        regions = fetch(data.regions)
        owners = fetch(data.owners)
    except data.NoData as exc:
        st.sidebar.info(f"No data yet: {exc}")
        raise
    first, last = span
    start, end = _clamp(st.session_state.get("_date_range", (first, last)), first, last)
    st.session_state["date_range"] = (start, end)
    picked = st.sidebar.date_input(
        "Deals created", min_value=first, max_value=last, key="date_range",
        on_change=_keep, args=("date_range",),
        help="Deals created from the first to the last day (both included)",
    )
    start, end = _range(picked, first, last)
    st.session_state["regions"] = [r for r in st.session_state.get("_regions", []) if r in regions]
    chosen = st.sidebar.multiselect(
        "Region", regions, key="regions", placeholder="All regions",
        on_change=_keep, args=("regions",),
    )
    st.session_state["owners"] = [o for o in st.session_state.get("_owners", []) if o in owners]
    owned = st.sidebar.multiselect(
        "Owner", owners, key="owners", placeholder="All owners",
        on_change=_keep, args=("owners",), help="The deal's owner (deals_enhanced.owner_name)",
    )
    st.sidebar.caption(f"Reading {wh.describe()}. Amounts in {currency()}.")
    return data.Filters(start=start, end=end, regions=tuple(chosen), owners=tuple(owned))


def currency() -> str:
    """The base currency's code, named next to every amount."""
    try:
        return fetch(data.currency)
    except data.NoData:
        return data.CURRENCY


def _keep(key: str) -> None:
    st.session_state[f"_{key}"] = st.session_state[key]


def _clamp(value: Any, first: date, last: date) -> tuple[date, date]:
    start, end = _range(value, first, last)
    start = min(max(start, first), last)
    return start, min(max(end, start), last)


def _range(picked: Any, first: date, last: date) -> tuple[date, date]:
    """date_input gives one date while the user picks the second: a one-day range."""
    if isinstance(picked, tuple | list):
        if len(picked) == 2:
            return picked[0], picked[1]
        if len(picked) == 1:
            return picked[0], picked[0]
        return first, last
    return picked, picked


def period_caption(flt: data.Filters, who: bool = True) -> str:
    """What the figures cover: the range, and the regions and owners when `who`."""
    text = f"Deals created {flt.start:%d %b %Y} to {flt.end:%d %b %Y}"
    if who:
        text += ", " + (", ".join(flt.regions) if flt.regions else "all regions")
        text += ", " + (", ".join(flt.owners) if flt.owners else "all owners")
    return f"{text}; amounts in {currency()}."
