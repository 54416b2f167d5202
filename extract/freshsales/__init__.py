"""dlt source for Freshsales (Freshworks CRM): accounts, contacts, deals, selectors.

Entities are read through their views, newest first, and merged on `id`;
selector lists are replaced on every run. Settings (view names, includes,
page size, concurrency) come from `[sources.freshsales]` in
`.dlt/config.toml`; the URL and the token are passed by the runner.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, cast

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from . import settings
from .arrow import ARROW_TYPES, ArrowPages
from .helpers import (
    CrmClient,
    CrmError,
    RateLimiter,
    RetryPolicy,
    RunStats,
    View,
    ViewScan,
    flatten_page,
    list_views,
    parse_ts,
    pick_views,
)

__all__ = ["RunContext", "RunStats", "freshsales_source"]


class RunContext:
    """What the runner shares with the resources: counters and view errors."""

    def __init__(self, stats: RunStats | None = None) -> None:
        self.stats = stats or RunStats()
        self.errors: list[str] = []
        self.views: dict[str, list[str]] = {}
        self.scans: dict[str, str] = {}  # view key -> "full" | "incremental"


@dlt.source(name="freshsales", max_table_nesting=0)
def freshsales_source(
    base_url: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    crm_key: str | None = None,
    entities: Sequence[str] | None = None,
    selectors: Sequence[str] | None = None,
    all_views: dict[str, str] | None = None,
    fallback_views: dict[str, list[str]] | None = None,
    recycle_bin: str = settings.RECYCLE_BIN,
    includes: dict[str, str] | None = None,
    per_page: int = settings.PAGE_SIZE,
    concurrency: int = 4,
    requests_per_second: float = 0.0,
    max_rate_limit_wait_s: float = 120.0,
    request_max_attempts: int = 6,
    request_max_retry_delay_s: float = 30.0,
    request_timeout_s: float = 60.0,
    record_format: str = "arrow",
    batch_rows: int = 1000,
    context: Any = None,
) -> Iterator[DltResource]:
    """Yield one merge resource per entity and one replace resource per selector.

    `crm_key` names the CRM the cursors belong to (default: the base URL), so
    pointing the pipeline at another CRM starts that CRM with a full sync.
    `context` (a RunContext) collects counters and per-view errors.
    """
    ctx: RunContext = context or RunContext()
    limiter = RateLimiter(
        ctx.stats, requests_per_second=requests_per_second, max_wait_s=max_rate_limit_wait_s,
    )
    client = CrmClient(
        base_url, api_key, ctx.stats, limiter,
        RetryPolicy(
            max_attempts=request_max_attempts, max_delay_s=request_max_retry_delay_s,
            timeout_s=request_timeout_s,
        ),
        max_connections=concurrency * 4,
    )
    key = crm_key or client.base_url
    views_by_entity = _resolve_views(
        client, list(entities or settings.ENTITIES), {**settings.ALL_VIEWS, **(all_views or {})},
        {**settings.FALLBACK_VIEWS, **(fallback_views or {})}, recycle_bin,
    )
    for entity, views in views_by_entity.items():
        ctx.views[entity] = [v.name for v in views]
        include = {**settings.INCLUDES, **(includes or {})}.get(entity, "")
        yield dlt.resource(
            _entity_pages(client, ctx, key, views, include, per_page, concurrency,
                          record_format, batch_rows),
            name=entity,
            primary_key="id",
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            columns=cast(TTableSchemaColumns, settings.ENTITY_COLUMNS[entity]),
            parallelized=True,
        )
    for selector in selectors if selectors is not None else settings.SELECTORS:
        table, array_key = settings.SELECTORS[selector]
        yield dlt.resource(
            _selector_rows(client, selector, table, array_key),
            name=table,
            primary_key="id",
            write_disposition="replace",
            columns=cast(TTableSchemaColumns, settings.SELECTOR_COLUMNS.get(table, {})),
            parallelized=True,
        )


def _resolve_views(
    client: CrmClient, entities: list[str], all_views: dict[str, str],
    fallback_views: dict[str, list[str]], recycle_bin: str,
) -> dict[str, list[View]]:
    for entity in entities:
        if entity not in settings.ENTITY_COLUMNS:
            raise ValueError(f"unknown entity {entity!r}; known: {', '.join(settings.ENTITIES)}")
    with ThreadPoolExecutor(max_workers=max(1, len(entities))) as pool:
        available = dict(zip(entities, pool.map(lambda e: list_views(client, e), entities),
                             strict=True))
    return {
        entity: pick_views(entity, available[entity], all_views.get(entity),
                           fallback_views.get(entity, []), recycle_bin)
        for entity in entities
    }


def _entity_pages(
    client: CrmClient, ctx: RunContext, crm_key: str, views: list[View], include: str,
    per_page: int, concurrency: int, record_format: str, batch_rows: int,
) -> Iterator[Any]:
    """Batches of every view of one entity; each view's cursor moves after its scan."""
    state = dlt.current.resource_state()
    cursors: dict[str, Any] = state.setdefault("cursors", {}).setdefault(crm_key, {})
    entity = views[0].entity if views else ""
    batcher = _Batcher(entity, record_format, batch_rows)
    # The table exists with its declared columns even when the CRM has no
    # record of this entity: an empty CRM builds empty marts.
    yield dlt.mark.materialize_table_schema()
    for view in views:
        saved = cursors.get(view.name) or {}
        cursor = parse_ts(saved.get("updated_at"))
        ctx.scans[view.key] = "incremental" if cursor else "full"
        scan = ViewScan(client, view, cursor, include, per_page, concurrency,
                        cursor_ids=frozenset(saved.get("ids", [])))
        try:
            for page in scan.pages():
                yield from batcher.add(scan.fresh_records(page), page.fetched_at)
        except Exception as exc:  # noqa: BLE001 - recorded, raised by the runner after load
            ctx.errors.append(_describe(view, exc))
            yield from batcher.flush()
            return
        yield from batcher.flush()
        if scan.finished and scan.new_cursor is not None:
            cursors[view.name] = {
                "updated_at": _iso(scan.new_cursor), "ids": sorted(scan.new_cursor_ids),
            }


class _Batcher:
    """Collects pages into batches of about `batch_rows` records.

    Arrow batches ("arrow", default) skip dlt's row normalizer; "dicts" yields
    the flattened records and lets dlt normalize them.
    """

    def __init__(self, entity: str, record_format: str, batch_rows: int) -> None:
        self.entity = entity
        self.record_format = record_format
        self.batch_rows = max(1, batch_rows)
        self.records: list[dict[str, Any]] = []
        self.fetched: list[datetime] = []
        self._arrow: ArrowPages | None = None

    def add(self, records: list[dict[str, Any]], fetched_at: datetime) -> Iterator[Any]:
        if self.record_format == "dicts":
            if records:
                yield flatten_page(records, fetched_at)
            return
        self.records.extend(records)
        self.fetched.extend([fetched_at] * len(records))
        if len(self.records) >= self.batch_rows:
            yield from self.flush()

    def flush(self) -> Iterator[Any]:
        if not self.records:
            return
        converter = self._converter()
        table = converter.table(self.records, self.fetched)
        self.records, self.fetched = [], []
        if converter.new_json_columns:
            columns = {name: {"data_type": "json"} for name in converter.new_json_columns}
            converter.new_json_columns = set()
            yield dlt.mark.with_hints(
                table, dlt.mark.make_hints(columns=cast(TTableSchemaColumns, columns))
            )
        else:
            yield table

    def _converter(self) -> ArrowPages:
        if self._arrow is None:
            declared = settings.ENTITY_COLUMNS[self.entity]
            self._arrow = ArrowPages(declared, _stored_types(self.entity))
        return self._arrow


def _stored_types(table: str) -> dict[str, str]:
    """Column types the destination schema already has for `table`."""
    try:
        schema = dlt.current.source_schema()
    except Exception:  # noqa: BLE001 - outside a pipeline: nothing stored
        return {}
    columns = schema.tables.get(table, {}).get("columns", {})
    return {
        name: column["data_type"] for name, column in columns.items()
        if "data_type" in column and not name.startswith("_dlt")
        and column["data_type"] in ARROW_TYPES
    }


def _describe(view: View, exc: Exception) -> str:
    if isinstance(exc, CrmError):
        return f"{view.entity} view {view.name!r}: {exc}"
    return f"{view.entity} view {view.name!r}: {type(exc).__name__}: {exc}"


def _iso(value: datetime) -> str:
    return value.isoformat()


def _selector_rows(
    client: CrmClient, selector: str, table: str, array_key: str,
) -> Iterator[Any]:
    data = client.get_json(f"selector/{selector}")
    rows = data.get(array_key)
    if rows is None and len(data) == 1:
        rows = next(iter(data.values()))
    rows = rows or []
    with client.stats.lock:
        client.stats.selector_rows[table] = len(rows)
    yield rows if rows else dlt.mark.materialize_table_schema()
