"""Records as the API sends them, made ready for raw: custom fields flattened,
text cleaned of what a destination cannot store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson


def strip_nul(value: Any) -> tuple[Any, int]:
    """`value` with NUL characters removed from every string, and how many held one."""
    if isinstance(value, str):
        return (value.replace("\x00", ""), 1) if "\x00" in value else (value, 0)
    if isinstance(value, list):
        cleaned = [strip_nul(item) for item in value]
        return [v for v, _ in cleaned], sum(n for _, n in cleaned)
    if isinstance(value, dict):
        total = 0
        out = {}
        for key, item in value.items():
            out[key], n = strip_nul(item)
            total += n
        return out, total
    return value, 0


def as_text(value: Any) -> str | None:
    """A custom field value as text: raw keeps what the API sent, typed later."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return orjson.dumps(value).decode()


def flatten_custom(record: dict[str, Any]) -> dict[str, Any]:
    """`custom_field` -> `custom_field__cf_*` text columns (raw keeps what the API sent)."""
    custom = record.pop("custom_field", None)
    if isinstance(custom, dict):
        for key, value in custom.items():
            record[f"custom_field__{key}"] = as_text(value)
    elif custom is not None:
        record["custom_field"] = as_text(custom)
    return record


def flatten_record(record: dict[str, Any], extracted_at: datetime) -> dict[str, Any]:
    """`custom_field` -> `custom_field__cf_*` text columns, plus `_extracted_at`."""
    flatten_custom(record)
    for key in ("amount", "annual_revenue"):
        value = record.get(key)
        if isinstance(value, float):
            record[key] = repr(value)  # exact decimal text of the JSON number
    record["_extracted_at"] = extracted_at
    return record


def flatten_page(records: list[dict[str, Any]], fetched_at: datetime) -> list[dict[str, Any]]:
    return [flatten_record(r, fetched_at) for r in records]
