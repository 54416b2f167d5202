"""Views and paging: which views to read, and reading one view to its end.

A view ends only on evidence (the pages read account for `meta.total`); a
full scan reads by creation with several pages in flight, an incremental one
newest change first down to its cursor; a scan that stops early leaves a
`Position` the next run resumes from. See `ViewScan`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from . import settings
from .client import CrmClient, MalformedAnswer, ViewFailed, ViewNotFound


class ShortPage(MalformedAnswer):
    """A page with fewer records than its place in `meta.total` says.

    `served` is set when it may tell the page size the CRM serves rather than
    a bad answer: page 1 of a view without `meta.total_pages` (appointments).
    The scan then asks for that size explicitly, so every page is where it
    expects it whichever it was.
    """

    def __init__(self, message: str, served: int | None = None) -> None:
        super().__init__(message)
        self.served = served

# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class View:
    """A view of a module (`{entity}/view/{id}`), or one filter of a list
    endpoint without views (`path`, e.g. `tasks` with `query` filter=open)."""

    entity: str
    id: int
    name: str
    path: str = ""
    query: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.entity}/{self.name}"

    @property
    def endpoint(self) -> str:
        return self.path or f"{self.entity}/view/{self.id}"

    @property
    def by_creation(self) -> bool:
        """Can a full scan read it by creation? Views sort on `created_at`; the
        list endpoints are only known to sort on `updated_at`."""
        return not self.path


def list_filters(entity: str, filters: list[tuple[str, dict[str, str]]]) -> list[View]:
    """The filters of a list endpoint (`tasks?filter=open`, ...) as views."""
    return [View(entity, 0, name, path=entity, query=tuple(sorted(query.items())))
            for name, query in filters]


def list_views(client: CrmClient, entity: str) -> dict[str, int]:
    """View name -> view id for one module (`GET /api/{module}/filters`)."""
    data = client.get_json(f"{entity}/filters")
    views = data.get("filters") if isinstance(data, dict) else None
    if not isinstance(views, list):
        raise MalformedAnswer(
            f"the CRM at {client.base_url} answered {entity}/filters without a 'filters' "
            f"list: {short_json(data)}"
        )
    return {f["name"]: int(f["id"]) for f in views
            if isinstance(f, dict) and "name" in f and _as_int(f.get("id")) is not None}


def pick_views(
    entity: str, available: dict[str, int], all_view: str | None,
    fallback: list[str], recycle_bin: str | None,
) -> list[View]:
    """The views to read: the "All" view, else the fallback union; plus the bin."""
    if all_view and all_view in available:
        names = [all_view]
    elif fallback:
        missing = [name for name in fallback if name not in available]
        if missing:
            wanted = ([all_view] if all_view else []) + fallback
            raise ViewNotFound(
                f"{entity}: view(s) {', '.join(repr(m) for m in missing)} not found "
                f"(looked for {', '.join(repr(w) for w in wanted)}); the CRM has "
                f"{', '.join(repr(a) for a in sorted(available)) or 'no views'}. "
                "Set the names under [sources.freshsales] in .dlt/config.toml"
            )
        names = list(fallback)
    else:
        raise ViewNotFound(
            f"{entity}: view {all_view!r} not found; the CRM has "
            f"{', '.join(repr(a) for a in sorted(available)) or 'no views'}. "
            "Set the names under [sources.freshsales] in .dlt/config.toml"
        )
    if recycle_bin and recycle_bin in available:
        names.append(recycle_bin)
    return [View(entity, available[name], name) for name in names]


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class Order:
    """The order a scan reads a view in."""

    field: str
    descending: bool

    def before(self, a: datetime, b: datetime) -> bool:
        """Does a record stamped `a` come before one stamped `b`?"""
        return a > b if self.descending else a < b

    def key(self, record: dict[str, Any]) -> datetime | None:
        return parse_ts(record.get(self.field))


# Incremental scans read the newest changes first and stop at the cursor: an
# edit moves a record to the front, to pages already read, so paging one page
# after the other never skips one. Full scans read by creation, oldest first,
# with several pages in flight: an edit moves no record at all, a creation
# lands at the end, so pages served out of order cannot skip one either.
CHANGES = Order(settings.SORT_FIELD, descending=True)
CREATION = Order("created_at", descending=False)
ORDERS = {order.field: order for order in (CHANGES, CREATION)}


@dataclass
class Page:
    number: int
    records: list[dict[str, Any]]
    total: int
    total_pages: int | None
    fetched_at: datetime
    per_page: int  # the page size the CRM served
    newest: datetime | None = None  # updated_at
    oldest: datetime | None = None
    first: datetime | None = None  # the scan order's field, first and last in that order
    last: datetime | None = None
    # each record's value of the scan order's field (None: none), as `records`
    keys: list[datetime | None] = field(default_factory=list)
    updated: list[datetime | None] = field(default_factory=list)  # each record's updated_at


@dataclass(frozen=True)
class Position:
    """How far an unfinished scan of a view read, in its order.

    Every record of the view that comes before `boundary` in `order` (and
    those at `boundary` whose id is in `boundary_ids`) was read; `page` is the
    last page read in order.
    """

    page: int
    boundary: datetime
    boundary_ids: frozenset[Any] = frozenset()
    order: str = CHANGES.field


def parse_ts(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (any offset, or Z) as an aware datetime in UTC.

    In UTC, not in the offset the CRM wrote (an account's time zone): two
    aware datetimes with different tzinfo objects compare through a
    `utcoffset()` call on each side, which took about a tenth of the
    extractor's own time at 100,000 deals (scans compare every record's stamp).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fetch_page(
    client: CrmClient, view: View, number: int, include: str, per_page: int,
    order: Order = CHANGES,
) -> Page:
    """One page of a view, checked: raises MalformedAnswer instead of guessing."""
    params: dict[str, Any] = {
        **dict(view.query),
        "page": number,
        "per_page": per_page,
        "sort": order.field,
        "sort_type": "desc" if order.descending else "asc",
    }
    if include:
        params["include"] = include
    fetched_at = datetime.now(UTC)
    data = client.get_json(view.endpoint, params)
    try:
        records, total, total_pages = _page_parts(data, view.entity)
        served = served_page_size(number, len(records), total, total_pages, per_page)
    except MalformedAnswer as exc:
        client.stats.count_request_only(view.key, malformed=not getattr(exc, "served", None))
        raise
    client.stats.count_page(view.entity, view.key, len(records))
    # Each record's stamps are parsed once here; the scan reuses `keys`.
    updated = [parse_ts(r.get(settings.SORT_FIELD)) for r in records]
    ordered = updated if order.field == settings.SORT_FIELD else [order.key(r) for r in records]
    stamps = [t for t in updated if t]
    keys = stamps if ordered is updated else [t for t in ordered if t]
    early, late = (max, min) if order.descending else (min, max)
    return Page(
        number=number,
        records=records,
        keys=ordered,
        updated=updated,
        total=total,
        total_pages=total_pages,
        fetched_at=fetched_at,
        per_page=served,
        newest=max(stamps) if stamps else None,
        oldest=min(stamps) if stamps else None,
        first=early(keys) if keys else None,
        last=late(keys) if keys else None,
    )


def _page_parts(data: Any, entity: str) -> tuple[list[dict[str, Any]], int, int | None]:
    """The records, `meta.total` and `meta.total_pages` of a list answer."""
    if not isinstance(data, dict):
        raise MalformedAnswer(f"the answer is a JSON {type(data).__name__}, not an object")
    if "errors" in data:
        raise MalformedAnswer(f"the answer carries errors: {short_json(data['errors'])}")
    records = data.get(entity)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise MalformedAnswer(f"the answer has no {entity!r} list of records")
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise MalformedAnswer("the answer has no meta.total")
    total = _as_int(meta.get("total"))
    if total is None or total < 0:
        raise MalformedAnswer("the answer has no meta.total")
    return records, total, _as_int(meta.get("total_pages"))


def served_page_size(
    number: int, count: int, total: int, total_pages: int | None, asked: int,
) -> int:
    """The page size the CRM used for a page of `count` records, or MalformedAnswer.

    A page holds `asked` records, or fewer only as the view's last page (or an
    empty one past it). A CRM that serves smaller pages than asked shows it
    through `meta.total_pages`; any other short page is not trusted.
    """
    expected = min(asked, max(0, total - (number - 1) * asked))
    if count >= expected:
        return max(asked, count) if count > asked else asked
    if total_pages and count and number < total_pages and -(-total // count) == total_pages:
        return count  # a full page of a CRM that caps the page size below `asked`
    served = count if number == 1 and total_pages is None and count else None
    raise ShortPage(
        f"page {number} has {count} records where {expected} were expected "
        f"(meta.total {total}, {asked} per page)", served,
    )


def short_json(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 120 else text[:117] + "..."


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def pages_for(total: int | None, per_page: int) -> int:
    if not total:
        return 0
    return -(-total // per_page)


@dataclass
class ViewScan:
    """Reads one view and stops where the last sync ended.

    `cursor` is the newest `updated_at` the previous complete scan of this
    view saw (None: first sync, read everything). With a cursor the view is
    read newest change first, one page after the other, and paging stops
    after the first page whose oldest record is older than the cursor;
    records equal to the cursor are read again; those whose id the previous
    scan already had at that instant (`cursor_ids`) are not loaded again.
    Without one the view is read by creation, oldest first, with up to
    `concurrency` requests in flight once page 1 told the total (see CREATION);
    a list endpoint (`View.path`), which sorts by `updated_at` only, is read
    newest first, one page after the other.

    A view ends only on evidence: when the pages read account for
    `meta.total` (without `meta.total_pages`, a full last page is followed by
    the empty page that ends the view). An answer without the records or `meta`, or a short page
    before the last, is fetched again (`page_attempts` in all) and then
    fails the scan (ViewFailed, naming the page); the cursor does not move.

    If `meta.total` drops between two consecutive pages, records were
    deleted or moved out of the view while paging and the later records
    shifted up: the boundary is read again so none is skipped. If
    `meta.total` grows, the extra pages at the end are read too.
    `new_cursor` is set only when the scan ran to its end, and never later
    than `cap` (the sync's start): a record stamped in the future is loaded,
    but later edits are still seen.

    `resume` continues a scan that stopped early (say, on the CRM's hourly
    request budget) at its `Position`, in that scan's order: from that page,
    or earlier ones if deletes since shifted the view up, skipping what was
    read before. `position` tells how far this scan read, for the next run.
    """

    client: CrmClient
    view: View
    cursor: datetime | None
    include: str
    per_page: int = settings.PAGE_SIZE
    concurrency: int = 4
    max_repair_pages: int = 5
    cursor_ids: frozenset[Any] = frozenset()
    resume: Position | None = None
    cap: datetime | None = None
    page_attempts: int = 3
    retry_pause_s: float = 0.5
    order: Order = field(init=False)
    new_cursor: datetime | None = None
    new_cursor_ids: frozenset[Any] = frozenset()
    finished: bool = False
    position: Position | None = None
    _newest: datetime | None = None
    _newest_ids: set[Any] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.resume is not None:
            self.order = ORDERS[self.resume.order]
        else:
            by_creation = self.cursor is None and self.view.by_creation
            self.order = CREATION if by_creation else CHANGES

    def pages(self) -> Iterator[Page]:
        first = self._first()
        if self.cap is None:  # no answer before this one: its Date header is the start
            self.cap = self.client.stats.crm_clock
        yield self._seen(first, in_order=True)
        if not self._done(first, first):
            ahead = self.concurrency if self.order is CREATION else 1
            for page, in_order in self._rest_of_view(first, ahead):
                yield self._seen(page, in_order)
        self.new_cursor, self.new_cursor_ids = self.progress_cursor()
        self.finished = True

    def progress_cursor(self) -> tuple[datetime | None, frozenset[Any]]:
        """The newest `updated_at` read so far (capped) and the ids that carry it."""
        newest, ids = self._newest, frozenset(self._newest_ids)
        if newest is None or (self.cursor is not None and newest < self.cursor):
            newest, ids = self.cursor, self.cursor_ids
        if newest is not None and self.cap is not None and newest > self.cap:
            newest, ids = self.cap, frozenset()
        return newest, ids

    def catch_up_cursor(self) -> tuple[datetime | None, frozenset[Any]]:
        """Where the next run's catch-up (newest change first) must read down to,
        to see every change this unfinished scan may not have: read newest
        first, the newest record it saw; read by creation, the scan's start
        (its newest `updated_at` is no frontier there: records created later,
        still unread, may be newer, and the tail reads them anyway)."""
        if self.order is CREATION and self.cap is not None:
            return self.cap, frozenset()
        return self.progress_cursor()

    def fresh_records(self, page: Page) -> list[dict[str, Any]]:
        """The records of a page not already loaded by the previous sync."""
        if self.cursor is None and self.resume is None:
            return page.records
        cursor, known = self.cursor, self.cursor_ids
        fresh = []
        for record, stamp in zip(page.records, _updated(page), strict=True):
            if stamp is not None and cursor is not None and (
                stamp < cursor or (stamp == cursor and record.get("id") in known)
            ):
                continue
            if self.resume is not None and self._read_before(record, self.resume):
                continue
            fresh.append(record)
        return fresh

    def _read_before(self, record: dict[str, Any], position: Position) -> bool:
        key = self.order.key(record)
        if key is None:
            return False
        return self.order.before(key, position.boundary) or (
            key == position.boundary and record.get("id") in position.boundary_ids)

    def _fetch(self, number: int) -> Page:
        for attempt in range(1, self.page_attempts + 1):
            try:
                return fetch_page(self.client, self.view, number, self.include, self.per_page,
                                  self.order)
            except MalformedAnswer as exc:
                served = exc.served if isinstance(exc, ShortPage) else None
                if served and served < self.per_page and attempt < self.page_attempts:
                    self.per_page = served  # ask for the size it serves: same offsets
                    continue
                if attempt == self.page_attempts:
                    raise ViewFailed(
                        f"page {number}: {exc} ({attempt} attempts); "
                        "the view's cursor did not move"
                    ) from None
                time.sleep(self.retry_pause_s * attempt)
        raise AssertionError("unreachable")

    def _first(self) -> Page:
        """Page 1, or where a stopped scan resumes: the first page that starts
        before the boundary, so that no record left to read sits before it."""
        page = self._fetch(self.resume.page if self.resume else 1)
        self.per_page = page.per_page
        steps = 0
        while self.resume is not None and page.number > 1:
            top = self.order.key(page.records[0]) if page.records else None
            if top is not None and self.order.before(top, self.resume.boundary):
                break
            steps += 1
            last = pages_for(page.total, page.per_page)
            number = 1 if steps > self.max_repair_pages else max(1, min(page.number - 1, last))
            with self.client.stats.lock:
                self.client.stats.gap_rereads += 1
            page = self._fetch(number)
        return page

    def _seen(self, page: Page, in_order: bool) -> Page:
        """Track the newest `updated_at` of the scan, the ids that carry it, and
        the position reached in order."""
        self.per_page = page.per_page
        with self.client.stats.lock:
            self.client.stats.pages_total[self.view.key] = pages_for(page.total, page.per_page)
            if in_order:
                self.client.stats.pages_read[self.view.key] = page.number
        newest = page.newest
        if newest is not None:
            if self._newest is None or newest > self._newest:
                self._newest, self._newest_ids = newest, set()
            if newest == self._newest:
                self._newest_ids.update(
                    r.get("id") for r, stamp in zip(page.records, _updated(page), strict=True)
                    if stamp == newest
                )
        if in_order and page.last is not None:
            self._advance(page)
        return page

    def _advance(self, page: Page) -> None:
        last = cast(datetime, page.last)
        keys = page.keys if len(page.keys) == len(page.records) else [
            self.order.key(r) for r in page.records]
        here = frozenset(r.get("id") for r, key in zip(page.records, keys, strict=True)
                         if key == last)
        before = self.position or self.resume
        if before is not None and self.order.before(last, before.boundary):
            last, here = before.boundary, frozenset()
        if before is not None and before.boundary == last:
            here = here | before.boundary_ids
        self.position = Position(page.number, last, here, self.order.field)

    def _done(self, page: Page, latest: Page) -> bool:
        """After `page` (in order), is the view read far enough?"""
        if not page.records:
            return True
        if self.cursor is not None and page.oldest is not None and page.oldest < self.cursor:
            return True
        return page.number >= self._last_page(latest)

    def _last_page(self, latest: Page) -> int:
        """The number of the view's last page, as the freshest `meta` tells it.

        Without `meta.total_pages` (appointments) the page size served cannot
        be checked, so a view whose last page is full is read one page further:
        it ends on the empty page after it (a short page ends it only where
        `meta.total` says so)."""
        last = pages_for(latest.total, self.per_page)
        if latest.total_pages is None and latest.total and latest.total % self.per_page == 0:
            last += 1
        return last

    def _rest_of_view(self, first: Page, ahead: int) -> Iterator[tuple[Page, bool]]:
        pending: deque[Future[Page]] = deque()
        next_number = first.number + 1
        previous = first
        latest = first  # the page with the freshest meta seen so far
        with ThreadPoolExecutor(max_workers=max(1, ahead)) as pool:
            try:
                while True:
                    limit = max(self._last_page(latest), previous.number + 1)
                    while len(pending) < ahead and next_number <= limit:
                        pending.append(pool.submit(self._fetch, next_number))
                        next_number += 1
                    if not pending:
                        return
                    page = pending.popleft().result()
                    latest = page if page.fetched_at >= latest.fetched_at else latest
                    if _total_dropped(previous, page):
                        for reread in self._repair(previous, page):
                            yield reread, False
                    yield page, True
                    if self._done(page, latest):
                        return
                    previous = page
            finally:
                for future in pending:
                    future.cancel()

    def _repair(self, before: Page, after: Page) -> Iterator[Page]:
        """Re-read around the boundary between two pages after a delete.

        Records that sat just after `before` may have shifted into it after
        it was read. They lie between the last record of `before` and the
        first of `after` in the scan's order; read page `before.number` again
        (and the following ones while they still reach into that range).
        """
        bound = after.first
        number = before.number
        for _ in range(self.max_repair_pages):
            page = self._fetch(number)
            with self.client.stats.lock:
                self.client.stats.gap_rereads += 1
            yield page
            if not page.records or page.last is None or bound is None \
                    or self.order.before(bound, page.last):
                return
            if len(page.records) < self.per_page:
                return
            number += 1


def _updated(page: Page) -> list[datetime | None]:
    """Each record's `updated_at`, as parsed when the page was fetched."""
    if len(page.updated) == len(page.records):
        return page.updated
    return [parse_ts(r.get(settings.SORT_FIELD)) for r in page.records]


def _total_dropped(previous: Page, page: Page) -> bool:
    if previous.total is None or page.total is None:
        return False
    return page.total < previous.total
