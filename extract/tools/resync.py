"""Bring records the tools just changed in the CRM back into raw.

This is an ordinary incremental run of the extractor, limited to the one
entity and without the selector lists: the views are read newest first and
the scan stops at the stored cursor, so the few records whose `updated_at`
moved come back in a page or two per view and are merged on `id`. It shares
the extractor's pipeline (same name, cursors and lock), so a later
`make extract` neither re-reads nor misses them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from extract.tools.contract import RAW_TABLES
from extract.tools.db import ToolError


def resync(entity: str, crm_ids: Sequence[int]) -> int:
    """Re-extract `entity` incrementally; returns how many of `crm_ids` are now in raw."""
    from extract.config import ConfigError, crm_account, load_settings
    from extract.errors import ExtractError, explain
    from extract.pipeline import run_extract

    try:
        settings = load_settings()
        account = crm_account(settings)
    except ConfigError as exc:
        raise ToolError(str(exc)) from None
    if account is None:
        raise ToolError("no CRM is set (CRM_BASE_URL / CRM_API_TOKEN); nothing to re-sync")
    table = RAW_TABLES[entity]
    try:
        run_extract(
            destination=settings.dbt_target,
            base_url=account.base_url,
            api_key=account.api_key,
            duckdb_path=settings.duckdb_path,
            dataset=settings.raw_schema,
            pg_credentials=settings.pg,
            pipelines_dir=os.environ.get("DLT_PIPELINES_DIR") or None,
            source_options={"entities": [table], "selectors": []},
        )
    except ExtractError as exc:
        raise ToolError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - CRM or dlt failure, reported as one line
        secrets = (account.api_key, settings.pg.password)
        raise ToolError(explain(exc, secrets) or type(exc).__name__) from None
    return _count_in_raw(table, crm_ids)


def _count_in_raw(table: str, crm_ids: Sequence[int]) -> int:
    from extract.tools.db import connect, quote_ident, raw_schema

    with connect(read_only=True) as db:
        marks = ", ".join([db.param] * len(crm_ids))
        sql = (
            f"select count(*) from {quote_ident(raw_schema())}.{quote_ident(table)}"
            f" where id in ({marks})"
        )
        return int(db.fetch(sql, list(crm_ids))[1][0][0])
