"""The dashboard's entry point: `make dashboard`, or
`streamlit run dashboards/app.py` from the repo root. Each page draws the
sidebar's filters itself (`ui.sidebar_filters()`), which keep their values
from one page to the next."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this folder on sys.path, not the repo root the
# `dashboards` and `extract` packages live in.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="CRM dashboard", page_icon=":bar_chart:", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:",
                default=True),
        st.Page(PAGES / "deal_value.py", title="Deal value over time",
                icon=":material/show_chart:"),
        st.Page(PAGES / "accounts.py", title="Accounts", icon=":material/business:"),
        st.Page(PAGES / "owner_performance.py", title="Owner performance",
                icon=":material/leaderboard:"),
        st.Page(PAGES / "pipeline.py", title="Pipeline over time",
                icon=":material/stacked_line_chart:"),
        st.Page(PAGES / "stage_history.py", title="Stage history",
                icon=":material/timeline:"),
        st.Page(PAGES / "activities.py", title="Activities", icon=":material/task_alt:"),
        st.Page(PAGES / "data_quality.py", title="Data quality",
                icon=":material/fact_check:"),
    ]
)
navigation.run()
