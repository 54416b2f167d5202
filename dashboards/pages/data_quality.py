"""Data quality: rejected records by entity and reason, deleted counts, the
last sync and how fresh the source is."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import streamlit as st

from dashboards import data, ui

st.title("Data quality")
st.caption("Whole CRM: the sidebar's filters do not apply here.")
with contextlib.suppress(data.NoData):  # the sidebar says it; the sections below too
    ui.sidebar_filters()

with ui.no_data_guard("the sync"):
    synced = ui.fetch(data.last_sync)
    if synced is None:
        raise data.NoData("no finished load in the raw schema")
    now = datetime.now(UTC).replace(tzinfo=None)
    age = now - synced
    hours = age.total_seconds() / 3600
    ago = f"{hours:.1f} hours ago" if hours < 48 else f"{age.days} days ago"
    st.metric("Last sync (UTC)", f"{synced:%Y-%m-%d %H:%M}", help=f"{ago}")
    st.caption(f"The extractor's last finished load, {ago}.")

with ui.no_data_guard("record counts"):
    fates = ui.fetch(data.record_fates)
    if fates.empty:
        raise data.NoData("the CRM has no account, contact or deal yet")
    totals = st.columns(3)
    totals[0].metric("Kept in the marts", ui.count(int(fates["kept"].sum())))
    totals[1].metric("Rejected", ui.count(int(fates["rejected"].sum())))
    totals[2].metric("Deleted in the CRM", ui.count(int(fates["deleted"].sum())))
    st.subheader("Records per entity")
    st.dataframe(
        fates.rename(columns={"entity": "Entity", "kept": "Kept", "rejected": "Rejected",
                              "deleted": "Deleted (Recycle Bin)"}),
        hide_index=True,
    )

with ui.no_data_guard("rejected records"):
    rejected = ui.fetch(data.rejected_by_reason)
    st.subheader("Rejected records by reason")
    if rejected.empty:
        st.success("No record was rejected.")
    else:
        st.dataframe(
            rejected.rename(columns={"entity": "Entity", "reason": "Reason",
                                     "records": "Records"}),
            hide_index=True,
        )
        st.caption("Each record and its raw values are in marts.rejected_records; "
                   "duplicate_of groups the `duplicate_of:<id>` reasons.")

with ui.no_data_guard("source freshness"):
    fresh = ui.fetch(data.source_freshness)
    st.subheader("Source freshness")
    now = datetime.now(UTC).replace(tzinfo=None)
    fresh["status"] = [
        "no rows" if loaded is None or loaded != loaded
        else ("fresh" if now - loaded <= data.FRESH_FOR else "stale")
        for loaded in fresh["loaded_at"]
    ]
    st.dataframe(
        fresh.rename(columns={"entity": "Entity", "records": "Raw records",
                              "loaded_at": "Last loaded (UTC)",
                              "newest_change": "Newest change in the CRM (UTC)",
                              "status": "Status"}),
        hide_index=True,
    )
    st.caption("Stale: not loaded for more than a day (the threshold of "
               "`dbt source freshness`).")
