"""Constants of the Freshsales source: endpoints, views, includes, column hints.

View names, includes and the page size can be overridden through dlt config
(`.dlt/config.toml`, section `[sources.freshsales]`).
"""

from __future__ import annotations

from typing import Any

API_PREFIX = "api"
PAGE_SIZE = 100
MAX_PAGE_SIZE = 100  # the CRM serves at most 100 records a page
SORT_FIELD = "updated_at"

ENTITIES = ("sales_accounts", "contacts", "deals")

# Views read per entity. The first entry of a list that exists wins; when a
# name is a list itself, all of its views are read (a union, de-duplicated by
# id through the merge). The Recycle Bin is always added.
ALL_VIEWS: dict[str, str] = {
    "sales_accounts": "All Accounts",
    "contacts": "All Contacts",
    "deals": "All Deals",
}
FALLBACK_VIEWS: dict[str, list[str]] = {
    "sales_accounts": [],
    "contacts": [],
    "deals": ["Open Deals", "Won Deals", "Lost Deals"],
}
RECYCLE_BIN = "Recycle Bin"

# Side-loads that make the foreign keys appear on list records.
INCLUDES: dict[str, str] = {
    "sales_accounts": "owner,industry_type,territory",
    "contacts": "owner,sales_accounts,territory,lead_source",
    "deals": "owner,sales_account,deal_stage,deal_pipeline,territory,lead_source",
}

# Selector endpoint -> (table name, key of the array in the response).
SELECTORS: dict[str, tuple[str, str]] = {
    "owners": ("owners", "users"),
    "deal_stages": ("deal_stages", "deal_stages"),
    "deal_pipelines": ("deal_pipelines", "deal_pipelines"),
    "territories": ("territories", "territories"),
    "industry_types": ("industry_types", "industry_types"),
    "lead_sources": ("lead_sources", "lead_sources"),
}


TS = {"data_type": "timestamp", "timezone": True}
BIGINT = {"data_type": "bigint"}
TEXT = {"data_type": "text"}
BOOL = {"data_type": "bool"}
DECIMAL = {"data_type": "decimal", "precision": 38, "scale": 9}
DATE = {"data_type": "date"}
JSON = {"data_type": "json"}


def _cols(**columns: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: dict(hint, name=name, nullable=True) for name, hint in columns.items()}


def _texts(*names: str) -> dict[str, dict[str, Any]]:
    return _cols(**{name: TEXT for name in names})


def _bigints(*names: str) -> dict[str, dict[str, Any]]:
    return _cols(**{name: BIGINT for name in names})


_ENTITY_COMMON: dict[str, dict[str, Any]] = {
    "id": {"name": "id", "data_type": "bigint", "nullable": False, "primary_key": True},
    **_cols(is_deleted=BOOL, created_at=TS, _extracted_at=TS),
    "updated_at": {**TS, "name": "updated_at", "nullable": True, "dedup_sort": "desc"},
    **_cols(tags=JSON),
}

# Contract section 4: every column the dbt staging models read.
ENTITY_COLUMNS: dict[str, dict[str, dict[str, Any]]] = {
    "sales_accounts": {
        **_ENTITY_COMMON,
        **_texts("name", "website", "city", "country"),
        **_cols(annual_revenue=DECIMAL, last_contacted=TS, links=JSON),
        **_bigints("number_of_employees", "industry_type_id", "territory_id", "owner_id"),
        **_texts(
            "custom_field__cf_account_id",
            "custom_field__cf_industry",
            "custom_field__cf_account_value",
            "custom_field__cf_region",
        ),
    },
    "contacts": {
        **_ENTITY_COMMON,
        **_texts("first_name", "last_name", "display_name", "email", "job_title", "external_id"),
        **_bigints("lead_source_id", "territory_id", "owner_id", "sales_account_id"),
        **_cols(last_contacted=TS, emails=JSON, sales_accounts=JSON, links=JSON),
        **_texts("custom_field__cf_lead_source", "custom_field__cf_last_contacted_date"),
    },
    "deals": {
        **_ENTITY_COMMON,
        **_texts("name"),
        **_cols(amount=DECIMAL, expected_close=DATE, closed_date=DATE, links=JSON),
        **_bigints(
            "probability",
            "deal_stage_id",
            "deal_pipeline_id",
            "sales_account_id",
            "owner_id",
            "lead_source_id",
            "territory_id",
        ),
        **_texts(
            "custom_field__cf_deal_id",
            "custom_field__cf_account_id",
            "custom_field__cf_probability_of_closure",
            "custom_field__cf_deal_stage",
        ),
    },
}

_NAMED = {
    "id": {"name": "id", "data_type": "bigint", "nullable": False, "primary_key": True},
    **_texts("name"),
    **_bigints("position"),
}

SELECTOR_COLUMNS: dict[str, dict[str, dict[str, Any]]] = {
    "owners": {
        "id": _NAMED["id"],
        **_texts("display_name", "email"),
        **_cols(is_active=BOOL),
    },
    "deal_stages": {
        **_NAMED,
        **_texts("forecast_type"),
        **_bigints("deal_pipeline_id", "probability"),
    },
    "deal_pipelines": {**_NAMED, **_cols(is_default=BOOL, deal_stages=JSON)},
    "territories": dict(_NAMED),
    "industry_types": dict(_NAMED),
    "lead_sources": dict(_NAMED),
}
