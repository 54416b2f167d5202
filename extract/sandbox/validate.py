"""Field names and types the sandbox accepts in PUT and POST bodies.

Unknown fields and values of the wrong type are refused (400, Freshsales error
shape); read-only fields (``id``, timestamps the server keeps, ``links``) are
ignored like the real API does. ``amount`` accepts a number or a decimal
string and is stored as a decimal string; ``*_id`` fields naming a selector
entry must name an existing one.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from .catalog import ID_FIELDS, SINGULAR
from .data import amount_text

_COMMON_RO = {"id", "created_at", "updated_at", "links", "is_deleted"}

_ACCOUNT = {
    "name": "str", "address": "str", "city": "str", "state": "str", "zipcode": "str",
    "country": "str", "phone": "str", "website": "str", "number_of_employees": "int",
    "annual_revenue": "num", "owner_id": "ref", "industry_type_id": "ref",
    "business_type_id": "ref", "territory_id": "ref", "parent_sales_account_id": "int",
    "last_contacted": "ts", "last_contacted_mode": "str", "tags": "list",
    "is_deleted": "bool", "custom_field": "dict", "links": "dict", "created_at": "ts",
    "updated_at": "ts", "last_assigned_at": "ts",
}
_CONTACT = {
    "first_name": "str", "last_name": "str", "display_name": "str", "email": "str",
    "emails": "list", "job_title": "str", "work_number": "str", "mobile_number": "str",
    "address": "str", "city": "str", "state": "str", "zipcode": "str", "country": "str",
    "time_zone": "str", "owner_id": "ref", "lead_source_id": "ref", "campaign_id": "ref",
    "contact_status_id": "ref", "lifecycle_stage_id": "ref", "territory_id": "ref",
    "sales_account_id": "int", "sales_accounts": "list", "external_id": "str",
    "lead_score": "int", "last_contacted": "ts", "last_contacted_mode": "str",
    "tags": "list", "is_deleted": "bool", "custom_field": "dict", "created_at": "ts",
    "updated_at": "ts",
}
_DEAL = {
    "name": "str", "amount": "amount", "base_currency_amount": "amount",
    "currency_id": "ref", "expected_close": "date", "closed_date": "date",
    "stage_updated_time": "ts", "probability": "int", "deal_pipeline_id": "ref",
    "deal_stage_id": "ref", "deal_reason_id": "ref", "deal_type_id": "ref",
    "deal_payment_status_id": "ref", "deal_product_id": "int", "campaign_id": "ref",
    "lead_source_id": "ref", "owner_id": "ref", "sales_account_id": "int",
    "territory_id": "ref", "forecast_category": "str", "expected_deal_value": "amount",
    "has_products": "bool", "tags": "list", "is_deleted": "bool", "custom_field": "dict",
    "links": "dict", "created_at": "ts", "updated_at": "ts", "last_assigned_at": "ts",
}
_LEAD = {
    "first_name": "str", "last_name": "str", "display_name": "str", "email": "str",
    "job_title": "str", "company": "dict", "city": "str", "country": "str",
    "lead_source_id": "ref", "lead_stage_id": "ref", "owner_id": "ref", "lead_score": "int",
    "is_deleted": "bool", "created_at": "ts", "updated_at": "ts",
}
FIELDS: dict[str, dict[str, str]] = {
    "sales_accounts": {"id": "int", **_ACCOUNT},
    "contacts": {"id": "int", **_CONTACT},
    "deals": {"id": "int", **_DEAL},
    "leads": {"id": "int", **_LEAD},
}
CUSTOM_FIELDS: dict[str, dict[str, str]] = {
    "sales_accounts": {"cf_account_id": "key", "cf_industry": "str",
                       "cf_account_value": "num", "cf_region": "str"},
    "contacts": {"cf_lead_source": "str", "cf_last_contacted_date": "date"},
    "deals": {"cf_deal_id": "key", "cf_account_id": "key",
              "cf_probability_of_closure": "str", "cf_deal_stage": "str"},
    "leads": {},
}
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


class Invalid(ValueError):
    """A request body the sandbox refuses; ``messages`` go into the 400 body."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def blank(entity: str) -> dict[str, Any]:
    """A record with every field empty: the start of a POSTed record."""
    empty = {"list": [], "dict": {}, "bool": False}
    rec = {name: empty.get(kind) for name, kind in FIELDS[entity].items()}
    if entity == "leads":
        rec["company"] = None
        return rec
    rec["tags"], rec["links"] = [], {}
    rec["custom_field"] = {name: None for name in CUSTOM_FIELDS[entity]}
    return rec


def unwrap(entity: str, body: Any) -> dict[str, Any]:
    """The record part of a wrapped (``{"deal": {...}}``) or unwrapped body."""
    if not isinstance(body, dict):
        raise Invalid(["Request body must be a JSON object"])
    key = SINGULAR[entity]
    if set(body) == {key} or (key in body and isinstance(body[key], dict)
                              and not set(body) - {key, "unique_identifier"}):
        inner = body[key]
        if not isinstance(inner, dict):
            raise Invalid([f"'{key}' must be a JSON object"])
        return inner
    return body


def clean_fields(entity: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Validated, normalised changes (custom fields nested); raises Invalid."""
    errors: list[str] = []
    out: dict[str, Any] = {}
    types = FIELDS[entity]
    for name, value in fields.items():
        if name in _COMMON_RO:
            continue
        kind = types.get(name)
        if kind is None:
            errors.append(f"Unknown field '{name}' for {SINGULAR[entity]}")
        elif name == "custom_field":
            out[name] = _custom(entity, value, errors)
        else:
            out[name] = _value(name, kind, value, errors)
    if errors:
        raise Invalid(errors)
    return out


def _custom(entity: str, value: Any, errors: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        errors.append("custom_field must be a JSON object")
        return {}
    known = CUSTOM_FIELDS[entity]
    out = {}
    for name, item in value.items():
        if name not in known:
            errors.append(f"Unknown custom field '{name}' for {SINGULAR[entity]}")
        else:
            out[name] = _value(name, known[name], item, errors)
    return out


def _value(name: str, kind: str, value: Any, errors: list[str]) -> Any:
    if value is None:
        return None
    ok, result = _CHECKS[kind](name, value)
    if not ok:
        errors.append(f"Invalid value for '{name}': expected {_EXPECTED[kind]}")
    return result


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _str(_: str, v: Any) -> tuple[bool, Any]:
    return isinstance(v, str), v


def _int(_: str, v: Any) -> tuple[bool, Any]:
    return isinstance(v, int) and not isinstance(v, bool), v


def _num(_: str, v: Any) -> tuple[bool, Any]:
    if isinstance(v, str) and _DECIMAL.match(v.strip()):
        number = float(v)
        return True, int(number) if number.is_integer() else number
    return _is_num(v), v


def _amount(_: str, v: Any) -> tuple[bool, Any]:
    if _is_num(v):
        return True, amount_text(round(v * 100))
    return isinstance(v, str) and bool(_DECIMAL.match(v.strip())), v


def _key(_: str, v: Any) -> tuple[bool, Any]:
    if isinstance(v, int) and not isinstance(v, bool):
        return True, str(v)
    return isinstance(v, str), v


def _bool(_: str, v: Any) -> tuple[bool, Any]:
    return isinstance(v, bool), v


def _date(_: str, v: Any) -> tuple[bool, Any]:
    try:
        date.fromisoformat(v)
        return len(v) == 10, v
    except (TypeError, ValueError):
        return False, v


def _ts(_: str, v: Any) -> tuple[bool, Any]:
    try:
        datetime.fromisoformat(v)
        return True, v
    except (TypeError, ValueError):
        return False, v


def _ref(name: str, v: Any) -> tuple[bool, Any]:
    allowed = ID_FIELDS.get(name)
    ok = isinstance(v, int) and not isinstance(v, bool)
    return ok and (allowed is None or v in allowed), v


def _list(_: str, v: Any) -> tuple[bool, Any]:
    return isinstance(v, list), v


def _dict(_: str, v: Any) -> tuple[bool, Any]:
    return isinstance(v, dict), v


_CHECKS = {"str": _str, "int": _int, "num": _num, "amount": _amount, "key": _key,
           "bool": _bool, "date": _date, "ts": _ts, "ref": _ref, "list": _list, "dict": _dict}
_EXPECTED = {"str": "a string", "int": "an integer", "num": "a number",
             "amount": "a number or a decimal string", "key": "a string or an integer",
             "bool": "true or false", "date": "a date YYYY-MM-DD",
             "ts": "an ISO-8601 timestamp", "ref": "the id of an existing entry",
             "list": "a list", "dict": "a JSON object"}
