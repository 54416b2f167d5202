"""Activities: tasks, appointments and sales activities per week and owner
(the `tasks`, `appointments` and `sales_activities` marts)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import data, ui

st.title("Activities")
with ui.no_data_guard("activities"):
    flt = ui.sidebar_filters()
    frame = ui.fetch(data.activities, flt)
    st.caption(
        f"Tasks due and appointments and sales activities held {flt.start:%d %b %Y} to "
        f"{flt.end:%d %b %Y}, " + (", ".join(flt.owners) if flt.owners else "all owners")
        + ". The region filter does not apply here (few activities name an account)."
    )
    if frame.empty:
        st.info("No activity in this range for these owners.")
    else:
        kinds = frame.groupby("kind")[["activities", "completed"]].sum()
        metrics = st.columns(4)
        for column, kind in zip(metrics, ("Tasks", "Appointments", "Sales activities"),
                                strict=False):
            column.metric(kind, ui.count(int(kinds["activities"].get(kind, 0))))
        tasks = int(kinds["activities"].get("Tasks", 0))
        done = int(kinds["completed"].get("Tasks", 0))
        metrics[3].metric("Tasks completed", ui.percent(done / tasks if tasks else None))
        chart = alt.Chart(frame, height=280).mark_bar().encode(
            x=alt.X("week:T", title="Week"),
            y=alt.Y("sum(activities):Q", title="Activities"),
            color=alt.Color("kind:N", title="Kind"),
            tooltip=["week:T", "kind:N", "sum(activities):Q"],
        )
        st.altair_chart(chart, width="stretch")
        per_owner = (frame.pivot_table(index="owner", columns="kind", values="activities",
                                       aggfunc="sum", fill_value=0)
                     .reset_index().rename(columns={"owner": "Owner"}))
        per_owner.columns.name = None
        st.subheader("Per owner")
        st.dataframe(per_owner, hide_index=True)
