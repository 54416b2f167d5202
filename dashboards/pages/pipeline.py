"""Pipeline over time: the open pipeline per stage day by day, and the deals
won and lost (`pipeline_daily`)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import data, ui

st.title("Pipeline over time")
with ui.no_data_guard("the pipeline over time"):
    flt = ui.sidebar_filters()
    money = ui.currency()
    frame = ui.fetch(data.pipeline_over_time, flt)
    st.caption(
        f"Days {flt.start:%d %b %Y} to {flt.end:%d %b %Y}; amounts in {money} "
        "(pipeline_daily: every pipeline, every region and owner; the region and owner "
        "filters do not apply here)."
    )
    if frame.empty:
        st.info("The pipeline holds no deal on these days.")
    else:
        last_day = frame["day"].max()
        open_now = frame[(frame["day"] == last_day) & (frame["category"] == "open")]
        metrics = st.columns([3, 3, 2, 2])  # room for the amounts
        metrics[0].metric(f"Open pipeline on {last_day:%d %b %Y} ({money})",
                          ui.money(float(open_now["open_value"].sum())))
        metrics[1].metric(f"Won in the range ({money})",
                          ui.money(float(frame["won_value"].sum())))
        metrics[2].metric("Open deals", ui.count(int(open_now["open_deals"].sum())))
        metrics[3].metric("Deals won / lost",
                          f"{int(frame['won'].sum()):,} / {int(frame['lost'].sum()):,}")
        opened = frame[frame["category"] == "open"]
        chart = alt.Chart(opened, height=300).mark_area().encode(
            x=alt.X("day:T", title="Day"),
            y=alt.Y("sum(open_value):Q", title=f"Open pipeline ({money})", stack=True),
            color=alt.Color("stage:N", title="Stage"),
            tooltip=["day:T", "stage:N", alt.Tooltip("sum(open_value):Q", format=",.2f")],
        )
        st.altair_chart(chart, width="stretch")
        closed = (frame.assign(month=frame["day"].dt.to_period("M").dt.to_timestamp())
                  .groupby("month", as_index=False)[["won", "won_value", "lost", "lost_value"]]
                  .sum())
        st.subheader("Won and lost per month")
        st.dataframe(
            closed.rename(columns={"month": "Month", "won": "Won",
                                   "won_value": f"Won value ({money})", "lost": "Lost",
                                   "lost_value": f"Lost value ({money})"}),
            hide_index=True,
            column_config={
                "Month": st.column_config.DateColumn(format="MMM YYYY"),
                f"Won value ({money})": ui.MONEY_COLUMN,
                f"Lost value ({money})": ui.MONEY_COLUMN,
            },
        )
