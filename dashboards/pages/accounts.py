"""Accounts: top accounts, breakdowns by region and industry, one account's deals."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import data, ui

VALUE_FORMAT = ui.MONEY_COLUMN

st.title("Accounts")
with ui.no_data_guard("accounts"):
    flt = ui.sidebar_filters()
    MONEY = ui.currency()
    st.caption(ui.period_caption(flt))
    top = ui.fetch(data.top_accounts, flt)
    st.subheader("Top accounts by deal value")
    if top.empty:
        st.info("No deal was created in this range and region.")
    else:
        st.dataframe(
            top.rename(columns={
                "account_id": "Account id", "account": "Account", "region": "Region",
                "industry": "Industry",
                "deals": "Deals", "deal_value": f"Deal value ({MONEY})",
                "pipeline": f"Open pipeline ({MONEY})", "won": f"Won ({MONEY})",
            }),
            hide_index=True,
            column_config={f"Deal value ({MONEY})": VALUE_FORMAT,
                           f"Open pipeline ({MONEY})": VALUE_FORMAT,
                           f"Won ({MONEY})": VALUE_FORMAT},
        )

    columns = st.columns(2)
    for column, (name, title) in zip(
        columns, (("region", "By region"), ("industry", "By industry")), strict=True,
    ):
        frame = ui.fetch(data.accounts_by, flt, name)
        with column:
            st.subheader(title)
            if frame.empty:
                st.info("No account in this region.")
                continue
            chart = alt.Chart(frame).mark_bar().encode(
                x=alt.X("deal_value:Q", title=f"Deal value ({MONEY})"),
                y=alt.Y(f"{name}:N", sort="-x", title=None),
                tooltip=[name, "accounts", alt.Tooltip("deal_value:Q", format=",.2f")],
            )
            st.altair_chart(chart, width="stretch")
            st.dataframe(
                frame.rename(columns={
                    name: name.capitalize(), "accounts": "Accounts",
                    "account_value": f"Account value ({MONEY})", "deals": "Deals",
                    "deal_value": f"Deal value ({MONEY})",
                }),
                hide_index=True,
                column_config={f"Account value ({MONEY})": VALUE_FORMAT,
                               f"Deal value ({MONEY})": VALUE_FORMAT},
            )

    st.subheader("One account")
    choices = ui.fetch(data.account_choices, flt)
    if not choices:
        st.info("No account in this region.")
    else:
        ids = list(choices)
        top_id = int(top.iloc[0]["account_id"]) if not top.empty else ids[0]
        picked = st.selectbox("Account", ids, index=ids.index(top_id), key="account",
                              format_func=choices.__getitem__)
        account, deals = ui.fetch(data.account_detail, picked)
        facts = st.columns(4)
        facts[0].metric("Region", account["region"])
        facts[1].metric("Industry", account["industry"])
        facts[2].metric(f"Account value ({MONEY})", ui.money(account["account_value"]))
        facts[3].metric("Deals", ui.count(len(deals)))
        st.dataframe(
            deals.rename(columns={
                "deal_id": "Deal id", "deal_name": "Deal", "deal_stage": "Stage",
                "amount": f"Size ({MONEY})", "owner_name": "Owner",
                "probability_percent": "Probability (%)", "created_date": "Created",
                "close_date": "Closed",
            }),
            hide_index=True,
            column_config={f"Size ({MONEY})": VALUE_FORMAT},
        )
        st.caption("All of the account's deals, whatever the filters.")
        contacts = ui.fetch(data.account_contacts, picked)
        st.markdown(f"**Contacts** ({len(contacts):,})")
        if contacts.empty:
            st.info("No contact of this account in the marts.")
        else:
            st.dataframe(
                contacts.rename(columns={
                    "first_name": "First name", "last_name": "Last name", "email": "Email",
                    "job_title": "Job title", "lead_source": "Lead source",
                    "last_contact_date": "Last contact",
                }),
                hide_index=True,
            )
