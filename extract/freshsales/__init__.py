"""dlt source for Freshsales (Freshworks CRM): accounts, contacts, deals, selectors.

Entities are read through their views, newest first, and merged on `id`;
selector lists are replaced on every run. Settings (view names, includes,
page size, concurrency) come from `[sources.freshsales]` in
`.dlt/config.toml`; the URL and the token are passed by the runner.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, cast

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from . import settings
from .arrow import ARROW_TYPES, ArrowPages
from .client import (
    CrmClient,
    CrmError,
    MalformedAnswer,
    RateLimiter,
    RateLimitExhausted,
    RetryPolicy,
    RunStats,
    ViewFailed,
)
from .paging import (
    ORDERS,
    Position,
    View,
    ViewScan,
    list_views,
    parse_ts,
    pick_views,
    short_json,
)
from .records import flatten_page

__all__ = ["RunContext", "RunStats", "freshsales_source"]

log = logging.getLogger(__name__)


class RunContext:
    """What the runner shares with the resources: counters, notes and failures.

    With `defer_errors` (the runner's way), a view that fails keeps what it
    read, saves its position and is reported here; the runner loads the rest
    and then fails the run. Without it (plain `pipeline.run()`), the first
    failing view raises and nothing of the run is loaded.
    """

    def __init__(self, stats: RunStats | None = None, defer_errors: bool = True,
                 notify: Callable[[str], None] | None = None) -> None:
        self.stats = stats or RunStats()
        self.defer_errors = defer_errors
        self.notify = notify
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.views: dict[str, list[str]] = {}
        self.scans: dict[str, str] = {}  # view key -> "full" | "incremental" | "resumed"
        self.budget_stops: dict[str, tuple[int, int]] = {}  # view key -> (page, of pages)
        self.budget_reset_s: float | None = None
        self._lock = threading.Lock()

    def note(self, line: str) -> None:
        """A one-line note for the user (a clamped setting, a reset destination)."""
        log.warning(line)
        self.notes.append(line)
        if self.notify:
            self.notify(line)

    def fail(self, what: str, exc: BaseException, position: Position | None = None) -> None:
        """Record a view (`what` is its key) or selector that could not be read."""
        with self._lock:
            if isinstance(exc, RateLimitExhausted):
                total = self.stats.pages_total.get(what, 0)
                self.budget_stops[what] = (position.page if position else 0, total)
                if exc.reset_in_s is not None:
                    self.budget_reset_s = max(self.budget_reset_s or 0.0, exc.reset_in_s)
            else:
                self.errors.append(_describe(what, exc))


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
    request_connect_timeout_s: float = 5.0,
    record_format: str = "arrow",
    batch_rows: int = 1000,
    context: Any = None,
) -> Iterator[DltResource]:
    """Yield one merge resource per entity and one replace resource per selector.

    `crm_key` names the CRM the cursors belong to (default: the base URL), so
    pointing the pipeline at another CRM starts that CRM with a full sync.
    `context` (a RunContext) collects counters and per-view errors; without
    one, a view that cannot be read to the end raises (ViewFailed or
    RateLimitExhausted, inside dlt's PipelineStepFailed).
    """
    ctx: RunContext = context or RunContext(defer_errors=False)
    if per_page < 1:
        raise ValueError("per_page must be a positive number")
    if per_page > settings.MAX_PAGE_SIZE:
        note = (f"per_page {per_page} is above the CRM's maximum of "
                f"{settings.MAX_PAGE_SIZE}; using {settings.MAX_PAGE_SIZE}")
        ctx.note(note)
        per_page = settings.MAX_PAGE_SIZE
    limiter = RateLimiter(
        ctx.stats, requests_per_second=requests_per_second, max_wait_s=max_rate_limit_wait_s,
    )
    client = CrmClient(
        base_url, api_key, ctx.stats, limiter,
        RetryPolicy(
            max_attempts=request_max_attempts, max_delay_s=request_max_retry_delay_s,
            timeout_s=request_timeout_s, connect_timeout_s=request_connect_timeout_s,
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
    # Selector lists are read before any resource runs: a list that cannot be
    # read is left out of the run, so its raw table keeps its rows instead of
    # being replaced by nothing (or raises, outside the runner).
    wanted = list(selectors if selectors is not None else settings.SELECTORS)
    with ThreadPoolExecutor(max_workers=max(1, min(len(wanted), concurrency))) as pool:
        answers = list(pool.map(lambda name: _try_selector(client, name), wanted))
    for selector, (rows, error) in zip(wanted, answers, strict=True):
        table = settings.SELECTORS[selector][0]
        if error is not None and ctx.defer_errors:
            ctx.fail(f"selector/{selector}", error)
            continue
        yield dlt.resource(
            _selector_rows(client, selector, table, rows, error),
            name=table,
            primary_key="id",
            write_disposition="replace",
            columns=cast(TTableSchemaColumns, settings.SELECTOR_COLUMNS.get(table, {})),
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
    positions: dict[str, Any] = state.setdefault("positions", {}).setdefault(crm_key, {})
    entity = views[0].entity if views else ""
    batcher = _Batcher(entity, record_format, batch_rows)
    for view in views:
        sync = _ViewSync(client, ctx, view, cursors, positions,
                         dict(include=include, per_page=per_page, concurrency=concurrency))
        try:
            for scan, page in sync.pages():
                yield from batcher.add(scan.fresh_records(page), page.fetched_at)
        except Exception as exc:
            if not ctx.defer_errors:
                raise _loud(view.key, exc) from exc
            yield from batcher.flush()
            ctx.fail(view.key, exc, sync.stopped_at)
            break
        yield from batcher.flush()
    yield from batcher.ensure_table()


class _ViewSync:
    """One view's sync: where it starts (its cursor, or the position an earlier
    run stopped at), which scans it needs, and what it saves when they end.

    A first or incremental sync is one scan from page 1. A sync that stopped
    early (hourly budget, a failing page) saved its position: the next one
    first reads what changed since (a scan down to the newest record the
    stopped one saw), then the rest of the view from that position on. The
    cursor moves only when the view was read to its end; until then the
    position moves instead.
    """

    def __init__(self, client: CrmClient, ctx: RunContext, view: View,
                 cursors: dict[str, Any], positions: dict[str, Any],
                 options: dict[str, Any]) -> None:
        self.view = view
        self.cursors = cursors
        self.positions = positions
        saved = cursors.get(view.name) or {}
        self.cursor = parse_ts(saved.get("updated_at"))
        self.cursor_ids = frozenset(saved.get("ids", []))
        self.resume = _position(positions.get(view.name))
        self.stopped_at: Position | None = self.resume
        self.common = dict(client=client, view=view, cap=client.stats.crm_clock, **options)
        mode = "resumed" if self.resume else "incremental" if self.cursor else "full"
        ctx.scans[view.key] = mode

    def pages(self) -> Iterator[tuple[ViewScan, Any]]:
        if self.resume is None:
            scan = ViewScan(cursor=self.cursor, cursor_ids=self.cursor_ids, **self.common)
            yield from self._read(scan, None)
            self._finish(scan.new_cursor, scan.new_cursor_ids)
            return
        newest, newest_ids = self.resume_newest()
        catch_up = ViewScan(cursor=newest, cursor_ids=newest_ids, **self.common)
        for page in catch_up.pages():
            yield catch_up, page
        newest, newest_ids = catch_up.new_cursor, catch_up.new_cursor_ids
        tail = ViewScan(cursor=self.cursor, cursor_ids=self.cursor_ids, resume=self.resume,
                        **self.common)
        yield from self._read(tail, (newest, newest_ids))
        self._finish(newest, newest_ids)

    def resume_newest(self) -> tuple[Any, frozenset[Any]]:
        saved = self.positions[self.view.name]
        return parse_ts(saved.get("newest")), frozenset(saved.get("newest_ids", []))

    def _read(self, scan: ViewScan, newest: tuple[Any, frozenset[Any]] | None,
              ) -> Iterator[tuple[ViewScan, Any]]:
        try:
            for page in scan.pages():
                yield scan, page
        except BaseException:
            position = scan.position or self.resume
            stamp, ids = newest or scan.catch_up_cursor()
            if position is not None and stamp is not None:
                self.stopped_at = position
                self.positions[self.view.name] = {
                    "newest": stamp.isoformat(), "newest_ids": sorted(ids),
                    "page": position.page, "boundary": position.boundary.isoformat(),
                    "boundary_ids": sorted(position.boundary_ids), "order": position.order,
                }
            raise

    def _finish(self, cursor: Any, ids: frozenset[Any]) -> None:
        if cursor is not None:
            self.cursors[self.view.name] = {"updated_at": cursor.isoformat(), "ids": sorted(ids)}
        self.positions.pop(self.view.name, None)


def _position(saved: dict[str, Any] | None) -> Position | None:
    if not saved:
        return None
    boundary = parse_ts(saved.get("boundary"))
    if boundary is None or parse_ts(saved.get("newest")) is None:
        return None
    order = saved.get("order", settings.SORT_FIELD)
    if order not in ORDERS:
        return None
    return Position(int(saved["page"]), boundary, frozenset(saved.get("boundary_ids", [])),
                    order)


def _loud(what: str, exc: Exception) -> CrmError:
    """The error a plain `pipeline.run()` raises when a view failed."""
    message = f"{_describe(what, exc)}; nothing of this run was loaded"
    if isinstance(exc, RateLimitExhausted):
        return RateLimitExhausted(message, exc.reset_in_s)
    return ViewFailed(message)


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
        self.yielded = False

    def ensure_table(self) -> Iterator[Any]:
        """An empty batch with the declared columns when nothing was read and the
        table does not exist yet: an empty CRM still gets its raw tables."""
        if self.yielded or _stored_types(self.entity):
            return
        table = ArrowPages(settings.ENTITY_COLUMNS[self.entity], {}).table([], [])
        yield table if self.record_format == "arrow" else dlt.mark.materialize_table_schema()

    def add(self, records: list[dict[str, Any]], fetched_at: datetime) -> Iterator[Any]:
        if self.record_format == "dicts":
            if records:
                self.yielded = True
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
        self.yielded = True
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


def _describe(what: str, exc: BaseException) -> str:
    entity, _, name = what.partition("/")
    where = f"{entity} view {name!r}" if name and entity != "selector" else what
    if isinstance(exc, CrmError):
        return f"{where}: {exc}"
    return f"{where}: {type(exc).__name__}: {exc}"


def _try_selector(
    client: CrmClient, selector: str,
) -> tuple[list[dict[str, Any]] | None, Exception | None]:
    try:
        return _selector_list(client, selector, settings.SELECTORS[selector][1]), None
    except Exception as exc:  # noqa: BLE001 - reported by the resource or the runner
        return None, exc


def _selector_rows(
    client: CrmClient, selector: str, table: str, rows: list[dict[str, Any]] | None,
    error: Exception | None,
) -> Iterator[Any]:
    if error is not None or rows is None:
        raise _loud(f"selector/{selector}", error or MalformedAnswer("no answer"))
    with client.stats.lock:
        client.stats.selector_rows[table] = len(rows)
    yield rows if rows else dlt.mark.materialize_table_schema()


def _selector_list(client: CrmClient, selector: str, array_key: str) -> list[dict[str, Any]]:
    """The objects of a selector answer; anything else is an error, never rows."""
    data = client.get_json(f"selector/{selector}")
    rows = data.get(array_key) if isinstance(data, dict) else None
    if rows is None and isinstance(data, dict) and len(data) == 1 and "errors" not in data:
        rows = next(iter(data.values()))
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MalformedAnswer(
            f"the CRM answered selector/{selector} without a list of objects: "
            f"{short_json(data)}"
        )
    return rows
