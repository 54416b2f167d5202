"""Deal value over time: `deal_aggregations` by day, week or month, per
region, industry or account."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import data, ui

st.title("Deal value over time")
with ui.no_data_guard("deal value over time"):
    flt = ui.sidebar_filters()
    left, right = st.columns(2)
    grain = left.radio("Grain", list(data.GRAINS), index=2, horizontal=True, key="grain")
    breakdown = right.radio("Per", list(data.BREAKDOWNS), horizontal=True, key="breakdown")
    frame = ui.fetch(data.value_over_time, flt, grain, breakdown)
    money = ui.currency()
    st.caption(
        f"{ui.period_caption(flt)} From deal_aggregations: deals with a size, per "
        f"{grain.lower()} of creation (weeks start on Monday), every period that overlaps "
        "the range."
        + (" The owner filter does not apply here: deal_aggregations is per account."
           if flt.owners else "")
    )
    if frame.empty:
        st.info("No sized deal was created in this range and region.")
    else:
        metrics = st.columns(3)
        metrics[0].metric(f"Deal value ({money})", ui.money(float(frame["value"].sum())))
        metrics[1].metric("Deals with a size", ui.count(int(frame["deals"].sum())))
        metrics[2].metric(f"{grain}s with deals", ui.count(int(frame["period"].nunique())))
        mark = alt.Chart(frame).mark_bar() if grain != "Day" else alt.Chart(frame).mark_bar(
            size=2)
        chart = mark.encode(
            x=alt.X("period:T", title=grain),
            y=alt.Y("sum(value):Q", title=f"Deal value ({money})", stack=True),
            color=alt.Color("label:N", title=breakdown),
            tooltip=["period:T", "label:N", alt.Tooltip("value:Q", format=",.2f"), "deals:Q"],
        )
        st.altair_chart(chart, width="stretch")
        totals = (frame.groupby("label", as_index=False)[["value", "deals"]].sum()
                  .sort_values(["value", "label"], ascending=[False, True]))
        totals = totals.sort_values("label", key=lambda s: s == data.OTHER_ACCOUNTS,
                                    kind="stable")
        st.subheader(f"Per {breakdown.lower()}")
        st.dataframe(
            totals.rename(columns={"label": breakdown, "value": f"Value ({money})",
                                   "deals": "Deals"}),
            hide_index=True,
            column_config={f"Value ({money})": ui.MONEY_COLUMN},
        )
