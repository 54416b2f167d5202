"""Owner performance: bookings, won and lost deals, win rate and open pipeline
per deal owner (`owner_performance`)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import data, ui

st.title("Owner performance")
with ui.no_data_guard("owner performance"):
    flt = ui.sidebar_filters()
    money = ui.currency()
    owners = ui.fetch(data.owner_performance, flt)
    st.caption(
        f"Months {flt.start:%B %Y} to {flt.end:%B %Y}, "
        + (", ".join(flt.owners) if flt.owners else "all owners")
        + f"; amounts in {money}. Won and lost by close date, open pipeline by expected "
        "close date (owner_performance). The region filter does not apply here."
    )
    if owners.empty:
        st.info("No owner won, lost or expects to close a deal in these months.")
    else:
        won, lost = int(owners["won"].sum()), int(owners["lost"].sum())
        metrics = st.columns([3, 3, 2, 2])  # room for the amounts
        metrics[0].metric(f"Bookings ({money})", ui.money(float(owners["bookings"].sum())))
        metrics[1].metric(f"Open pipeline ({money})",
                          ui.money(float(owners["open_pipeline"].sum())))
        metrics[2].metric("Deals won", ui.count(won))
        metrics[3].metric("Win rate", ui.percent(won / (won + lost) if won + lost else None))
        months = ui.fetch(data.bookings_by_month, flt)
        chart = alt.Chart(months, height=280).mark_bar().encode(
            x=alt.X("yearmonth(month):T", title="Month"),
            y=alt.Y("sum(bookings):Q", title=f"Bookings ({money})"),
            color=alt.Color("owner:N", title="Owner"),
            tooltip=["owner:N", "yearmonth(month):T",
                     alt.Tooltip("sum(bookings):Q", format=",.2f")],
        )
        st.altair_chart(chart, width="stretch")
        st.dataframe(
            owners.rename(columns={
                "owner": "Owner", "won": "Won", "bookings": f"Bookings ({money})",
                "lost": "Lost", "lost_value": f"Lost value ({money})",
                "win_rate": "Win rate", "open_deals": "Open deals",
                "open_pipeline": f"Open pipeline ({money})",
                "sales_activities": "Sales activities", "appointments": "Appointments",
                "completed_tasks": "Tasks completed",
            }),
            hide_index=True,
            column_config={
                f"Bookings ({money})": ui.MONEY_COLUMN,
                f"Lost value ({money})": ui.MONEY_COLUMN,
                f"Open pipeline ({money})": ui.MONEY_COLUMN,
                "Win rate": st.column_config.NumberColumn(format="percent"),
            },
        )
