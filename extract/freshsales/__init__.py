"""dlt source for Freshsales (Freshworks CRM): accounts, contacts, deals, leads,
tasks, appointments, sales activities and the selector lists.

Modules with views (accounts, contacts, deals, leads) are read through them,
newest first, and merged on `id`; the lists without views (tasks,
appointments, sales activities) likewise per filter, with a periodic full
sweep that marks deleted what it no longer finds; selector lists are replaced
on every run. Settings (view names, includes, page size, concurrency, sweep
interval) come from `[sources.freshsales]` in `.dlt/config.toml`; the URL and
the token are passed by the runner. Every resource makes its requests only
when it runs, so `source.with_resources(...)` costs only the selected ones.
"""

from __future__ import annotations

import logging
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import dlt
import numpy as np
import orjson
import pyarrow as pa
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from . import settings
from .arrow import ARROW_TYPES, ArrowPages
from .client import (
    CrmClient,
    CrmError,
    MalformedAnswer,
    NotFound,
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
    list_filters,
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
        # view key -> "full" | "incremental" | "resumed" | "sweep"
        self.scans: dict[str, str] = {}
        # list (tasks, ...) -> {"swept": bool, "complete": bool, "marked_deleted": n}
        self.sweeps: dict[str, dict[str, Any]] = {}
        self.skipped: dict[str, str] = {}  # module -> why it was not read (no such module)
        self.setup: _Setup | None = None  # set by freshsales_source; see prepare()
        # A sql client of the destination, made by the runner before extraction
        # (making one inside a running resource upsets dlt's config contexts):
        # complete sweeps read the ids raw holds through it.
        self.raw_sql: Any = None
        self.raw_lock = threading.Lock()  # one resource at a time uses it
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
    sweep_interval_hours: float = settings.SWEEP_INTERVAL_HOURS,
    full_sweep: bool = False,
    context: Any = None,
) -> Iterator[DltResource]:
    """Yield one merge resource per entity and one replace resource per selector.

    `entities` (default: all of settings.ENTITIES) and `selectors` (default:
    all of settings.SELECTORS) limit what the source holds; to pick among
    them, use dlt's `source.with_resources(...)` by table name.
    `crm_key` names the CRM the cursors belong to (default: the base URL), so
    pointing the pipeline at another CRM starts that CRM with a full sync.
    The lists without views (tasks, appointments, sales activities) are read
    in full (a sweep, which marks deleted the rows it no longer finds) on
    their first sync, when the last sweep is `sweep_interval_hours` old, or
    with `full_sweep`; else incrementally.
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
    wanted = list(entities or settings.ENTITIES)
    for entity in wanted:
        if entity not in settings.ENTITY_COLUMNS:
            raise ValueError(f"unknown entity {entity!r}; known: {', '.join(settings.ENTITIES)}")
    setup = _Setup(client, ctx, {**settings.ALL_VIEWS, **(all_views or {})},
                   {**settings.FALLBACK_VIEWS, **(fallback_views or {})}, recycle_bin)
    ctx.setup = setup
    if ctx.raw_sql is None:  # a plain pipeline.run(): the active pipeline's destination
        ctx.raw_sql = _raw_sql_client()
    for entity in wanted:
        if entity in settings.LIST_ENDPOINTS:
            sweep = _SweepPolicy(sweep_interval_hours, full_sweep)
            pages = _list_pages(client, ctx, key, entity, per_page, sweep, record_format,
                                batch_rows)
        else:
            include = {**settings.INCLUDES, **(includes or {})}.get(entity, "")
            pages = _entity_pages(setup, client, ctx, key, entity, include, per_page,
                                  concurrency, record_format, batch_rows)
        yield dlt.resource(
            pages,
            name=entity,
            primary_key="id",
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            columns=cast(TTableSchemaColumns, settings.ENTITY_COLUMNS[entity]),
            parallelized=True,
        )
    for selector in (selectors if selectors is not None else settings.SELECTORS):
        table = settings.SELECTORS[selector][0]
        yield dlt.resource(
            _selector_rows(setup, client, ctx, selector, table),
            name=table,
            primary_key="id",
            write_disposition="replace",
            columns=cast(TTableSchemaColumns, settings.SELECTOR_COLUMNS.get(table, {})),
        )


class _Setup:
    """What the resources need before they read: each module's views, and the
    selector lists.

    The runner calls `prepare()` with the selected resources before it
    extracts: the views and lists are fetched then, concurrently, so a wrong
    URL, a rejected token or a missing view fails before anything is read,
    and a selector list that cannot be read is left out of the run (its raw
    table keeps its rows instead of being replaced by nothing). Without
    `prepare()` (a plain `pipeline.run()`), each resource fetches its own
    when it runs, and raises.
    """

    def __init__(self, client: CrmClient, ctx: RunContext, all_views: dict[str, str],
                 fallback_views: dict[str, list[str]], recycle_bin: str) -> None:
        self.client = client
        self.ctx = ctx
        self.all_views = all_views
        self.fallback_views = fallback_views
        self.recycle_bin = recycle_bin
        self._lock = threading.Lock()
        self._views: dict[str, list[View]] = {}
        self._selectors: dict[str, tuple[list[dict[str, Any]] | None, Exception | None]] = {}

    def views(self, entity: str) -> list[View]:
        """The views of a module, looked up by name once per run."""
        with self._lock:
            known = self._views.get(entity)
        if known is not None:
            return known
        try:
            available: dict[str, int] | None = list_views(self.client, entity)
        except NotFound:
            if entity not in settings.OPTIONAL_MODULES:
                raise
            why = f"the CRM has no {entity} module ({entity}/filters answered 404)"
            self.ctx.skipped[entity] = why
            self.ctx.note(f"{entity}: skipped, {why}")
            available = None
        views = [] if available is None else pick_views(
            entity, available, self.all_views.get(entity),
            self.fallback_views.get(entity, []), self.recycle_bin)
        with self._lock:
            self._views[entity] = views
            self.ctx.views[entity] = [v.name for v in views]
        return views

    def selector(self, name: str) -> tuple[list[dict[str, Any]] | None, Exception | None]:
        """A selector list (or the error that stopped it), read once per run."""
        with self._lock:
            known = self._selectors.get(name)
        if known is None:
            known = _try_selector(self.client, name)
            with self._lock:
                self._selectors[name] = known
        return known

    def prepare(self, tables: Iterable[str]) -> list[str]:
        """Fetch the views and selector lists `tables` need, before extraction.

        Raises what a view lookup raises (CrmError); returns the selector
        tables whose list could not be read (recorded in the context), which
        the caller leaves out of the run.
        """
        tables = set(tables)
        entities = [e for e in settings.VIEW_ENTITIES if e in tables]
        if entities:
            with ThreadPoolExecutor(max_workers=len(entities)) as pool:
                list(pool.map(self.views, entities))
        selectors = [name for name, (table, _) in settings.SELECTORS.items() if table in tables]
        if selectors:
            with ThreadPoolExecutor(max_workers=min(len(selectors), 8)) as pool:
                list(pool.map(self.selector, selectors))
        failed = []
        for name in selectors:
            error = self._selectors[name][1]
            if error is not None:
                self.ctx.fail(f"selector/{name}", error)
                failed.append(settings.SELECTORS[name][0])
        return failed


def _entity_pages(
    setup: _Setup, client: CrmClient, ctx: RunContext, crm_key: str, entity: str,
    include: str, per_page: int, concurrency: int, record_format: str, batch_rows: int,
) -> Iterator[Any]:
    """Batches of every view of one entity; each view's cursor moves after its scan."""
    views = setup.views(entity)
    state = dlt.current.resource_state()
    cursors: dict[str, Any] = state.setdefault("cursors", {}).setdefault(crm_key, {})
    positions: dict[str, Any] = state.setdefault("positions", {}).setdefault(crm_key, {})
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


class _SweepPolicy:
    """When a list without views is read in full: on its first sync, when its
    last complete sweep is `interval_hours` old (0: every run), or when asked."""

    def __init__(self, interval_hours: float, forced: bool) -> None:
        self.interval = timedelta(hours=max(0.0, float(interval_hours)))
        self.forced = bool(forced)

    def due(self, last: datetime | None, now: datetime) -> bool:
        return self.forced or last is None or now - last >= self.interval


def _list_pages(
    client: CrmClient, ctx: RunContext, crm_key: str, entity: str, per_page: int,
    sweep: _SweepPolicy, record_format: str, batch_rows: int,
) -> Iterator[Any]:
    """Batches of a list without views (tasks, appointments, sales activities).

    Each filter (`open`, `completed`, ...) is read like a view: newest change
    first down to its cursor. Deleted records just leave these lists, so a
    sweep reads every filter in full; when every filter was read to its end,
    the rows of raw that the sweep did not meet are loaded again with
    `is_deleted = true` (tombstones). A sweep that fails or stops early marks
    nothing, and a later run sweeps again (a due sweep first finishes a scan an
    earlier run left unfinished, as an incremental read; an asked-for one
    starts over).
    """
    views = list_filters(entity, settings.LIST_ENDPOINTS[entity])
    ctx.views[entity] = [v.name for v in views]
    state = dlt.current.resource_state()
    cursors: dict[str, Any] = state.setdefault("cursors", {}).setdefault(crm_key, {})
    positions: dict[str, Any] = state.setdefault("positions", {}).setdefault(crm_key, {})
    sweeps: dict[str, Any] = state.setdefault("sweeps", {})
    known = bool(cursors or positions)  # raw may hold rows of this CRM to mark deleted
    due = sweep.due(parse_ts(sweeps.get(crm_key)), datetime.now(UTC))
    batcher = _Batcher(entity, record_format, batch_rows)
    seen = _SeenIds()
    complete = due
    for view in views:
        if sweep.forced:  # asked for: from page 1, even where a stopped run left a position
            positions.pop(view.name, None)
        sync = _ViewSync(client, ctx, view, cursors, positions, dict(include="",
                         per_page=per_page), sweep=due)
        complete = complete and sync.sweeping
        try:
            for scan, page in sync.pages():
                if sync.sweeping and known:  # only compared when raw may hold rows
                    seen.update(record.get("id") for record in page.records)
                records = scan.fresh_records(page)
                for record in records:
                    record.setdefault("is_deleted", False)
                yield from batcher.add(records, page.fetched_at)
        except Exception as exc:
            if not ctx.defer_errors:
                raise _loud(view.key, exc) from exc
            yield from batcher.flush()
            ctx.fail(view.key, exc, sync.stopped_at)
            complete = False
            break
        yield from batcher.flush()
    report: dict[str, Any] = {"swept": due, "marked_deleted": 0}
    if complete and known and ctx.raw_sql is None:
        ctx.note(f"{entity}: swept, but the destination could not be read to compare; "
                 "nothing marked deleted, the next run sweeps again")
        complete = False
    gone: list[dict[str, Any]] = []
    if complete and known:
        try:
            gone = _unseen_rows(ctx, entity, seen)
        except Exception as exc:
            if not ctx.defer_errors:
                raise _loud(entity, exc) from exc
            ctx.fail(entity, exc)
            complete = False
    if complete:  # recorded in the state that commits with the tombstones
        started = client.stats.crm_clock or datetime.now(UTC)
        sweeps[crm_key] = started.isoformat()
        report["marked_deleted"] = len(gone)
        if gone:
            yield from batcher.add(gone, datetime.now(UTC))
            yield from batcher.flush()
    report["complete"] = complete
    ctx.sweeps[entity] = report
    yield from batcher.ensure_table()


class _SeenIds:
    """The ids a sweep met, 8 bytes each: a Python set of the 3,000,000 sales
    activities of a 1,000,000-deal CRM held about 230 MB through the sweep."""

    def __init__(self) -> None:
        self._ints = array("q")
        self._other: set[Any] = set()  # any id that is not a 64-bit integer
        self._sorted: Any = None

    def update(self, ids: Iterable[Any]) -> None:
        for crm_id in ids:
            if _int64(crm_id):
                self._ints.append(crm_id)
            else:
                self._other.add(crm_id)

    def unseen(self, ids: Sequence[Any]) -> list[Any]:
        """Those of `ids` never met, in their order."""
        if self._sorted is None:
            self._sorted = np.unique(np.frombuffer(self._ints, dtype=np.int64))
            self._ints = array("q")
        ints = [i for i in ids if _int64(i)]
        met: set[Any] = set()
        if ints and len(self._sorted):
            values = np.array(ints, dtype=np.int64)
            at = np.minimum(np.searchsorted(self._sorted, values), len(self._sorted) - 1)
            met = set(values[self._sorted[at] == values].tolist())
        return [i for i in ids if i not in met and i not in self._other]


def _int64(value: Any) -> bool:
    return type(value) is int and -(2 ** 63) <= value < 2 ** 63


# The latest version of each row (the filesystem destination appends
# versions; a NULL `_extracted_at` is the oldest), when it is not deleted.
_LIVE_IDS = """select id from (
    select id, is_deleted, row_number() over (
        partition by id order by _extracted_at desc nulls last) as _crm_version
    from {name}
) as latest where _crm_version = 1 and not coalesce(is_deleted, false)"""


def _unseen_rows(ctx: RunContext, table: str, seen: _SeenIds) -> list[dict[str, Any]]:
    """The live rows of raw `table` whose id a complete sweep did not meet, as
    records marked deleted (each row's latest version: the filesystem
    destination appends versions). The destination finds the live ids; they
    are compared with what the sweep met a chunk at a time, so memory holds
    the ids met and the rows gone, not the table."""
    try:
        with ctx.raw_lock, ctx.raw_sql as sql:
            name = sql.make_qualified_table_name(table)
            gone: list[Any] = []
            with sql.execute_query(_LIVE_IDS.format(name=name)) as cursor:
                while chunk := cursor.fetchmany(100_000):
                    gone.extend(seen.unseen([crm_id for (crm_id,) in chunk]))
            gone.sort()
            found: dict[Any, dict[str, Any]] = {}
            for chunk in range(0, len(gone), 1000):
                ids = ", ".join(str(int(i)) for i in gone[chunk:chunk + 1000])
                with sql.execute_query(f"select * from {name} where id in ({ids})") as cursor:
                    columns = [c[0] for c in cursor.description]
                    for values in cursor.fetchall():
                        row = dict(zip(columns, values, strict=True))
                        held = found.get(row["id"])
                        if held is None or _later(row["_extracted_at"], held["_extracted_at"]):
                            found[row["id"]] = row
    except Exception as exc:  # noqa: BLE001 - no table yet: nothing to mark
        if _missing_table(exc):
            return []
        raise
    types = _stored_types(table)
    return [_as_record(row, types) for row in found.values()]


def _raw_sql_client() -> Any:
    """A sql client of the active pipeline's destination, when it has loaded
    before (made here, outside any running resource), else None."""
    try:
        pipeline = dlt.current.pipeline()
        return pipeline.sql_client() if pipeline.default_schema_name else None
    except Exception:  # noqa: BLE001 - no active pipeline, or no sql destination
        return None


def _later(a: Any, b: Any) -> bool:
    return b is None or (a is not None and a > b)


def _missing_table(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "does not exist" in text or "not found" in text or "no files" in text


def _as_record(row: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """A raw row read back as the API would send it (ISO text for time stamps and
    dates, decimal text, parsed JSON), marked deleted."""
    record: dict[str, Any] = {}
    for name, value in row.items():
        if name.startswith("_dlt") or name == "_extracted_at":
            continue
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif types.get(name) == "json" and isinstance(value, str | bytes):
            value = orjson.loads(value)
        record[name] = value
    record["is_deleted"] = True
    return record


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
                 options: dict[str, Any], sweep: bool = False) -> None:
        self.view = view
        self.cursors = cursors
        self.positions = positions
        saved = cursors.get(view.name) or {}
        self.cursor = parse_ts(saved.get("updated_at"))
        self.cursor_ids = frozenset(saved.get("ids", []))
        self.resume = _position(positions.get(view.name))
        self.stopped_at: Position | None = self.resume
        self.common = dict(client=client, view=view, cap=client.stats.crm_clock, **options)
        # A sweep reads the whole view from page 1 (unless an earlier run left a
        # position to resume from): every record it holds is seen.
        self.sweeping = self.resume is None and (sweep or self.cursor is None)
        mode = ("resumed" if self.resume else "sweep" if sweep and self.cursor
                else "incremental" if self.cursor else "full")
        if self.sweeping:
            self.cursor, self.cursor_ids = None, frozenset()
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
    the flattened records and lets dlt normalize them. Records are converted
    to Arrow every `batch_rows` (the dicts are the bulky part), and the Arrow
    tables go to dlt `yield_rows` at a time: dlt computes and validates the
    table's hints once per item it receives, whatever its size (measured at
    100,000 deals: about a tenth of the extractor's CPU with 1,000-row items).
    5,000 is dlt's `buffer_max_items`, so the parquet row groups keep their
    size: with 20,000-row groups DuckDB's load ran out of its memory limit
    (then 128 MB) at 1,000,000 deals.
    """

    def __init__(self, entity: str, record_format: str, batch_rows: int,
                 yield_rows: int = 5_000) -> None:
        self.entity = entity
        self.record_format = record_format
        self.batch_rows = max(1, batch_rows)
        self.yield_rows = max(self.batch_rows, yield_rows)
        self.records: list[dict[str, Any]] = []
        self.fetched: list[datetime] = []
        self.tables: list[Any] = []  # converted, not yet handed to dlt
        self.table_rows = 0
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
            self._convert()
            if self.table_rows >= self.yield_rows:
                yield from self._hand_over()

    def flush(self) -> Iterator[Any]:
        """Everything collected so far, handed to dlt now."""
        self._convert()
        yield from self._hand_over()

    def _convert(self) -> None:
        if not self.records:
            return
        self.tables.append(self._converter().table(self.records, self.fetched))
        self.table_rows += len(self.records)
        self.records, self.fetched = [], []

    def _hand_over(self) -> Iterator[Any]:
        if not self.tables:
            return
        converter = self._converter()
        # Batches may lack columns no record of theirs had: unified by name, as nulls.
        table = (self.tables[0] if len(self.tables) == 1
                 else pa.concat_tables(self.tables, promote_options="default"))
        self.tables, self.table_rows = [], 0
        self.yielded = True
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
    setup: _Setup, client: CrmClient, ctx: RunContext, selector: str, table: str,
) -> Iterator[Any]:
    rows, error = setup.selector(selector)
    if error is not None or rows is None:
        error = error or MalformedAnswer("no answer")
        if ctx.defer_errors:
            ctx.fail(f"selector/{selector}", error)
            return
        raise _loud(f"selector/{selector}", error)
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
