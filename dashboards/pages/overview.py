"""Overview: pipeline value, deals by stage, won and lost this month, win rate."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import data, ui

st.title("Overview")
with ui.no_data_guard("the overview"):
    flt = ui.sidebar_filters()
    kpis = ui.fetch(data.overview, flt)
    month = f"{flt.month:%B %Y}"
    st.caption(ui.period_caption(flt))
    if not kpis["deals"]:
        st.info("No deal was created in this range and region.")
    money = ui.currency()
    first = st.columns(3)
    first[0].metric(f"Pipeline value ({money})", ui.money(kpis["pipeline_value"]),
                    help="Summed amount of the open deals (stage category open), "
                         "in the base currency")
    first[1].metric("Open deals", ui.count(kpis["open_deals"]))
    first[2].metric("Win rate", ui.percent(kpis["win_rate"]),
                    help="Won deals / (won + lost deals), of the deals created in the range")
    second = st.columns(4)
    second[0].metric(f"Won in {month}", ui.count(kpis["won_in_month"]))
    second[1].metric(f"Won value in {month} ({money})", ui.money(kpis["won_value_in_month"]))
    second[2].metric(f"Lost in {month}", ui.count(kpis["lost_in_month"]))
    second[3].metric(f"Lost value in {month} ({money})", ui.money(kpis["lost_value_in_month"]))
    st.caption(
        f"Won and lost in {month}, the month the date range ends in, by close date "
        "(deals_enhanced.close_date), whenever the deal was created: the semantic layer's "
        "bookings and won_deal_count."
    )

    st.subheader("Deals by stage")
    stages = kpis["by_stage"]
    if stages.empty:
        st.info("No deal was created in this range and region.")
    else:
        chart = alt.Chart(stages, height=260).mark_bar().encode(
            x=alt.X("stage:N", sort=list(stages["stage"]), title="Stage",
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=f"Deal value ({money})"),
            tooltip=["stage", "deals", alt.Tooltip("value:Q", format=",.2f")],
        )
        st.altair_chart(chart, width="stretch")
        st.dataframe(
            stages.rename(columns={"stage": "Stage", "deals": "Deals",
                                   "value": f"Value ({money})"}),
            hide_index=True,
            column_config={f"Value ({money})": ui.MONEY_COLUMN},
        )
