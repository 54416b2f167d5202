"""Stage history: how deals move through the stages and how long they stay
(`deal_stage_history`)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import data, ui

st.title("Stage history")
with ui.no_data_guard("the stage history"):
    flt = ui.sidebar_filters()
    stages = ui.fetch(data.stage_history, flt)
    st.caption(
        f"Stage visits that began {flt.start:%d %b %Y} to {flt.end:%d %b %Y}, "
        + (", ".join(flt.regions) if flt.regions else "all regions") + ", "
        + (", ".join(flt.owners) if flt.owners else "all owners")
        + ". Days: of the visits that ended (the deal moved on)."
    )
    if stages.empty:
        st.info("No deal entered a stage in this range, region and owner.")
    else:
        metrics = st.columns(3)
        metrics[0].metric("Stage visits", ui.count(int(stages["visits"].sum())))
        metrics[1].metric("Visits going on", ui.count(int(stages["current"].sum())))
        finished = stages.dropna(subset=["average_days"])
        weighted = ((finished["average_days"] * (finished["visits"] - finished["current"]))
                    .sum() / (finished["visits"] - finished["current"]).sum()
                    if not finished.empty else None)
        metrics[2].metric("Average days in a stage (ended visits)",
                          "–" if weighted is None else f"{weighted:,.1f}")
        chart = alt.Chart(finished, height=260).mark_bar().encode(
            x=alt.X("stage:N", sort=list(stages["stage"]), title="Stage",
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("average_days:Q", title="Average days in the stage"),
            tooltip=["stage", "visits", alt.Tooltip("average_days:Q", format=",.1f")],
        )
        st.altair_chart(chart, width="stretch")
        st.dataframe(
            stages.drop(columns="category").rename(columns={
                "stage": "Stage", "visits": "Visits", "deals": "Deals",
                "current": "In it now", "average_days": "Average days",
                "longest_days": "Longest (days)",
            }),
            hide_index=True,
            column_config={"Average days": st.column_config.NumberColumn(format="%.1f")},
        )
