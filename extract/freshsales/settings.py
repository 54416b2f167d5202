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

# Modules read through views (`/filters`, `/view/{id}`). Leads are optional: a
# tenant without the leads module answers 404 on `leads/filters`.
VIEW_ENTITIES = ("sales_accounts", "contacts", "deals", "leads")
OPTIONAL_MODULES = ("leads",)
# Lists read without views: endpoint -> (view name, query) per filter. The
# filters of a list partition it (every record is in exactly one); they are
# read in this order, so a record that moves from one to the next while the
# list is read (a task completed, an appointment that became past) is met in
# the second. overdue/due_today are subsets of open and are not read.
LIST_ENDPOINTS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "tasks": [("open", {"filter": "open"}), ("completed", {"filter": "completed"})],
    "appointments": [("upcoming", {"filter": "upcoming"}), ("past", {"filter": "past"})],
    "sales_activities": [("all", {})],
}
# Every table merged on `id`: the view modules, then the lists.
ENTITIES = (*VIEW_ENTITIES, *LIST_ENDPOINTS)
SWEEP_INTERVAL_HOURS = 24.0  # lists: a full read that catches deletes, at most this far apart

# Views read per entity. The first entry of a list that exists wins; when a
# name is a list itself, all of its views are read (a union, de-duplicated by
# id through the merge). The Recycle Bin is always added.
ALL_VIEWS: dict[str, str] = {
    "sales_accounts": "All Accounts",
    "contacts": "All Contacts",
    "deals": "All Deals",
    "leads": "All Leads",
}
FALLBACK_VIEWS: dict[str, list[str]] = {
    "sales_accounts": [],
    "contacts": [],
    "deals": ["Open Deals", "Won Deals", "Lost Deals"],
    "leads": [],
}
RECYCLE_BIN = "Recycle Bin"

# Side-loads that make the foreign keys appear on list records.
INCLUDES: dict[str, str] = {
    "sales_accounts": "owner,industry_type,territory",
    "contacts": "owner,sales_accounts,territory,lead_source",
    "deals": "owner,sales_account,deal_stage,deal_pipeline,territory,lead_source",
    "leads": "owner,lead_source",
}

# Selector endpoint -> (table name, key of the array in the response).
SELECTORS: dict[str, tuple[str, str]] = {
    "owners": ("owners", "users"),
    "deal_stages": ("deal_stages", "deal_stages"),
    "deal_pipelines": ("deal_pipelines", "deal_pipelines"),
    "territories": ("territories", "territories"),
    "industry_types": ("industry_types", "industry_types"),
    "lead_sources": ("lead_sources", "lead_sources"),
    "teams": ("teams", "teams"),
    "currencies": ("currencies", "currencies"),
    "deal_reasons": ("deal_reasons", "deal_reasons"),
    "deal_types": ("deal_types", "deal_types"),
    "sales_activity_types": ("sales_activity_types", "sales_activity_types"),
    "sales_activity_outcomes": ("sales_activity_outcomes", "sales_activity_outcomes"),
    "task_types": ("task_types", "task_types"),
    "lead_stages": ("lead_stages", "lead_stages"),
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
_LIST_COMMON: dict[str, dict[str, Any]] = {
    **{k: v for k, v in _ENTITY_COMMON.items() if k != "tags"},
    **_texts("targetable_type"),
    **_bigints("targetable_id", "owner_id", "creater_id"),
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
        **_cols(amount=DECIMAL, base_currency_amount=DECIMAL, expected_close=DATE,
                closed_date=DATE, links=JSON),
        **_bigints(
            "probability",
            "deal_stage_id",
            "deal_pipeline_id",
            "sales_account_id",
            "owner_id",
            "lead_source_id",
            "territory_id",
            "currency_id",
        ),
        **_texts(
            "custom_field__cf_deal_id",
            "custom_field__cf_account_id",
            "custom_field__cf_probability_of_closure",
            "custom_field__cf_deal_stage",
        ),
    },
    "leads": {
        **_ENTITY_COMMON,
        **_texts("first_name", "last_name", "display_name", "email", "job_title", "city",
                 "country"),
        **_cols(company=JSON),
        **_bigints("lead_source_id", "lead_stage_id", "owner_id", "lead_score"),
    },
    # Lists without a Recycle Bin: is_deleted is false when listed, true once a
    # complete sweep no longer finds the record.
    "tasks": {
        **_LIST_COMMON,
        **_texts("title", "description"),
        **_cols(due_date=TS, completed_date=TS),
        **_bigints("status", "task_type_id", "outcome_id"),
    },
    "appointments": {
        **_LIST_COMMON,
        **_texts("title", "description", "time_zone", "location"),
        **_cols(from_date=TS, end_date=TS, is_allday=BOOL),
        **_bigints("outcome_id"),
    },
    "sales_activities": {
        **_LIST_COMMON,
        **_texts("title", "notes"),
        **_cols(start_date=TS, end_date=TS),
        **_bigints("sales_activity_type_id", "sales_activity_outcome_id"),
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
        **_bigints("team_id"),
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
    "teams": dict(_NAMED),
    "currencies": {
        "id": _NAMED["id"],
        **_texts("currency_code"),
        **_cols(exchange_rate=DECIMAL, is_active=BOOL),
        **_bigints("currency_type"),
    },
    "deal_reasons": dict(_NAMED),
    "deal_types": dict(_NAMED),
    "sales_activity_types": dict(_NAMED),
    "sales_activity_outcomes": {**_NAMED, **_bigints("sales_activity_type_id")},
    "task_types": dict(_NAMED),
    "lead_stages": dict(_NAMED),
}

# Names `objects` (--objects, [sources.freshsales] objects) accepts: the raw tables.
OBJECTS = (*ENTITIES, *(table for table, _ in SELECTORS.values()))
