"""Paging, auth, rate limiting and retry glue around dlt's RESTClient.

dlt's requests `Client` does the retries (429 and 5xx, honouring
`Retry-After`, exponential back-off, bounded attempts); `RESTClient` holds
the base URL and the `Authorization: Token token=...` header. What dlt does
not provide and lives here: fetching pages of one view with bounded
concurrency, a client-side limiter fed by the `x-ratelimit-*` headers, and
the per-view scan that reads newest first and stops at the view's cursor.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

import orjson
import requests
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth

from . import settings

# ---------------------------------------------------------------- errors


class CrmError(RuntimeError):
    """A CRM failure with a one-line, secret-free message for the user."""


class AuthRejected(CrmError):
    pass


class CrmUnreachable(CrmError):
    pass


class ViewNotFound(CrmError):
    pass


class RateLimitExhausted(CrmError):
    """The CRM's request budget is spent until later than the run may wait."""

    def __init__(self, message: str, reset_in_s: float | None = None) -> None:
        super().__init__(message)
        self.reset_in_s = reset_in_s


class MalformedAnswer(CrmError):
    """A 200 that is not what the endpoint answers: no array, no `meta`, a short page."""


class ViewFailed(CrmError):
    """A view could not be read to the end; its cursor did not move."""


# ---------------------------------------------------------------- stats


@dataclass
class RunStats:
    """Counters shared by every thread of a run (guarded by one lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    requests: int = 0
    list_requests: Counter[str] = field(default_factory=Counter)
    status_429: int = 0
    status_5xx: int = 0
    records: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    selector_rows: Counter[str] = field(default_factory=Counter)
    gap_rereads: int = 0
    rate_limit_waits_s: float = 0.0
    malformed_retries: int = 0
    nul_cleaned: int = 0  # text values that carried a NUL byte (PostgreSQL cannot store it)
    crm_clock: datetime | None = None  # the CRM's Date header of the first answer
    pages_read: Counter[str] = field(default_factory=Counter)  # view key -> position reached
    pages_total: dict[str, int] = field(default_factory=dict)  # view key -> pages in the view

    def count_response(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            if status == 429:
                self.status_429 += 1
            elif status >= 500:
                self.status_5xx += 1

    def count_page(self, table: str, view_key: str, n_records: int) -> None:
        with self.lock:
            self.list_requests[view_key] += 1
            self.pages[table] += 1
            self.records[table] += n_records

    def count_request_only(self, view_key: str) -> None:
        """A list request whose answer was not a usable page (retried)."""
        with self.lock:
            self.list_requests[view_key] += 1
            self.malformed_retries += 1

    def saw_clock(self, headers: Any) -> None:
        if self.crm_clock is not None:
            return
        value = headers.get("date")
        stamp = _http_date(value) if value else None
        with self.lock:
            if self.crm_clock is None:
                self.crm_clock = stamp or datetime.now(UTC)

    @property
    def retries(self) -> int:
        return self.status_429 + self.status_5xx


# ---------------------------------------------------------------- limiter


class RateLimiter:
    """Keeps requests under the CRM's limit instead of running into 429s.

    Fed by `x-ratelimit-remaining` / `x-ratelimit-reset` (seconds until the
    window resets, or an epoch time) and `Retry-After`: it counts down the
    remaining budget (minus requests still in flight) and, once it is spent,
    makes every thread wait for the reset. An optional fixed pace
    (`requests_per_second`) spaces requests evenly. A wait longer than
    `max_wait_s` raises RateLimitExhausted instead of hanging.
    """

    def __init__(
        self, stats: RunStats, requests_per_second: float = 0.0, max_wait_s: float = 120.0,
    ) -> None:
        self._lock = threading.Lock()
        self._stats = stats
        self._interval = 1.0 / requests_per_second if requests_per_second > 0 else 0.0
        self._next_slot = 0.0
        self._remaining: int | None = None
        self._limit: int | None = None  # x-ratelimit-limit: the budget of a window
        self._reset_at = 0.0
        self._window_low: int | None = None  # lowest x-ratelimit-remaining of the window
        self._in_flight = 0
        self.max_wait_s = max_wait_s

    def acquire(self) -> None:
        while True:
            wait = self._try_acquire()
            if wait <= 0:
                return
            if wait > self.max_wait_s:
                raise RateLimitExhausted(
                    f"the CRM's request budget resets in {wait:.0f} s, longer than the "
                    f"{self.max_wait_s:g} s this run may wait (--max-wait)",
                    reset_in_s=wait,
                )
            with self._stats.lock:
                self._stats.rate_limit_waits_s += wait
            time.sleep(wait)

    def release(self) -> None:
        """A request that got no answer (connection error) is no longer in flight."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def pause(self, seconds: float) -> None:
        """A 429 without reset headers: no request goes out for `seconds`."""
        with self._lock:
            self._remaining = 0
            self._reset_at = max(self._reset_at, time.monotonic() + seconds)

    def reset_in_s(self) -> float:
        with self._lock:
            return max(0.0, self._reset_at - time.monotonic())

    def _try_acquire(self) -> float:
        """0 when a request may go now (and it is counted), else seconds to wait."""
        with self._lock:
            now = time.monotonic()
            if self._remaining is not None and self._remaining <= 0:
                if now < self._reset_at:
                    return self._reset_at - now
                # a new window: its budget is the limit, less what is still in flight
                self._remaining = self._limit - self._in_flight if self._limit else None
            if self._interval:
                if self._next_slot > now:
                    return self._next_slot - now
                self._next_slot = now + self._interval
            if self._remaining is not None:
                self._remaining -= 1
            self._in_flight += 1
            return 0.0

    def observe(self, headers: Any) -> None:
        remaining = _int_header(headers, "x-ratelimit-remaining")
        reset = _float_header(headers, "x-ratelimit-reset")
        retry_after = _float_header(headers, "retry-after")
        limit = _int_header(headers, "x-ratelimit-limit")
        with self._lock:
            if limit:
                self._limit = limit
            now = time.monotonic()
            if now >= self._reset_at:  # the first response of a new window
                self._window_low = None
            self._in_flight = max(0, self._in_flight - 1)
            if retry_after is not None:
                remaining = 0
            if remaining is not None:
                # Responses overtake each other: a late one carries an older,
                # higher count. Within a window the lowest count seen is the
                # freshest; what is still in flight will spend more of it.
                if self._window_low is None or remaining < self._window_low:
                    self._window_low = remaining
                self._remaining = self._window_low - self._in_flight
            delay = retry_after if retry_after is not None else reset
            if delay is not None:
                if delay > 1e9:  # an epoch timestamp rather than seconds
                    delay = max(0.0, delay - time.time())
                # Whole seconds round the reset up, so each response of a window
                # names a later moment than the true one; the earliest estimate
                # of the current window is the closest (never early).
                if now < self._reset_at:
                    self._reset_at = min(self._reset_at, now + delay)
                else:
                    self._reset_at = now + delay


def _float_header(headers: Any, name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _int_header(headers: Any, name: str) -> int | None:
    value = _float_header(headers, name)
    return None if value is None else int(value)


def _http_date(value: str) -> datetime | None:
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


# ---------------------------------------------------------------- client


@dataclass(frozen=True)
class RetryPolicy:
    """How long a run insists before it gives up on one request."""

    max_attempts: int = 6
    backoff_factor: float = 1.0
    max_delay_s: float = 30.0
    timeout_s: float = 60.0  # read timeout: how long one answer may take
    connect_timeout_s: float = 5.0  # how long a connection may take to open
    max_429: int = 50  # 429s in a row for one request before the run gives up


class CrmClient:
    """Thread-safe access to one Freshsales account.

    Each thread gets its own RESTClient over a session of one shared dlt
    `Client`, which retries 5xx answers and read timeouts. 429s go back
    through the rate limiter (which waits for the reset the CRM names, or
    stops the run when that is further than it may wait), and connection
    failures are retried here only once the CRM has answered this run: a
    host that cannot be reached fails at the first request, within the
    connect timeout.
    """

    def __init__(
        self, base_url: str, api_key: str, stats: RunStats, limiter: RateLimiter,
        retry: RetryPolicy | None = None, max_connections: int = 16,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.stats = stats
        self.limiter = limiter
        self._reached = False  # the CRM answered once: later connection errors are retried
        self._http = Client(
            request_timeout=(self.retry.connect_timeout_s, self.retry.timeout_s),
            max_connections=max_connections,
            raise_for_status=False,
            status_codes=tuple(range(500, 600)),
            exceptions=(requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError),
            request_max_attempts=self.retry.max_attempts,
            request_backoff_factor=self.retry.backoff_factor,
            request_max_retry_delay=self.retry.max_delay_s,
        )
        self._local = threading.local()

    def _rest(self) -> RESTClient:
        rest: RESTClient | None = getattr(self._local, "rest", None)
        if rest is None:
            session = self._http.session
            session.hooks["response"].append(self._on_response)
            rest = RESTClient(
                base_url=f"{self.base_url}/{settings.API_PREFIX}",
                headers={"Accept": "application/json"},
                auth=APIKeyAuth(
                    name="Authorization", api_key=f"Token token={self._api_key}",
                    location="header",
                ),
                session=session,
            )
            self._local.rest = rest
        return rest

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._reached = True
        self.stats.count_response(response.status_code)
        self.stats.saw_clock(response.headers)
        self.limiter.observe(response.headers)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a path under /api and parse it; raise CrmError subclasses."""
        response = self._get(path, params)
        _raise_for_status(response, self.base_url, path)
        content = response.content
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise CrmError(
                f"the CRM at {self.base_url} answered {path} with something that is "
                "not JSON; is CRM_BASE_URL the Freshsales URL ending in /crm/sales?"
            ) from None
        if b"\\u0000" in content:
            data, cleaned = strip_nul(data)
            with self.stats.lock:
                self.stats.nul_cleaned += cleaned
        return data

    def _get(self, path: str, params: dict[str, Any] | None) -> requests.Response:
        """One answer that is not a 429, waiting for the CRM's budget as needed."""
        refused = 0
        lost = 0
        while True:
            self.limiter.acquire()
            try:
                response = self._rest().get(path, params=params)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.limiter.release()
                lost += 1
                # dlt retried read timeouts already; a connection error is retried
                # here only once the CRM answered this run (else: a wrong URL).
                if (isinstance(exc, requests.ReadTimeout) or not self._reached
                        or lost >= self.retry.max_attempts):
                    raise CrmUnreachable(
                        f"cannot reach the CRM at {self.base_url} ({_reason(exc)}); "
                        "check CRM_BASE_URL and the network"
                    ) from None
                time.sleep(min(self.retry.max_delay_s, self.retry.backoff_factor * 2 ** lost))
                continue
            if response.status_code != 429:
                return response
            refused += 1
            if refused >= self.retry.max_429:
                raise RateLimitExhausted(
                    f"the CRM at {self.base_url} answered 429 (rate limit) {refused} times "
                    "in a row", reset_in_s=self.limiter.reset_in_s(),
                )
            if not _has_reset(response.headers):
                self.limiter.pause(min(self.retry.max_delay_s, 2.0 ** refused))


def _has_reset(headers: Any) -> bool:
    return any(headers.get(h) is not None for h in ("retry-after", "x-ratelimit-reset"))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer within the read timeout"
    return type(exc).__name__


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


def _raise_for_status(response: requests.Response, base_url: str, path: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status in (401, 403):
        raise AuthRejected(
            f"the CRM at {base_url} rejected the API token ({status}); "
            "check CRM_API_TOKEN (Profile Settings > API Settings in Freshsales)"
        )
    if status == 404:
        raise CrmError(
            f"the CRM at {base_url} has no {path} (404); is CRM_BASE_URL the "
            "Freshsales URL ending in /crm/sales?"
        )
    raise CrmError(f"the CRM at {base_url} answered {path} with HTTP {status} after retries")


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class View:
    entity: str
    id: int
    name: str

    @property
    def key(self) -> str:
        return f"{self.entity}/{self.name}"


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
    """An ISO-8601 timestamp (any offset, or Z) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fetch_page(
    client: CrmClient, view: View, number: int, include: str, per_page: int,
    order: Order = CHANGES,
) -> Page:
    """One page of a view, checked: raises MalformedAnswer instead of guessing."""
    params = {
        "page": number,
        "per_page": per_page,
        "sort": order.field,
        "sort_type": "desc" if order.descending else "asc",
    }
    if include:
        params["include"] = include
    fetched_at = datetime.now(UTC)
    data = client.get_json(f"{view.entity}/view/{view.id}", params)
    try:
        records, total, total_pages = _page_parts(data, view.entity)
        served = served_page_size(number, len(records), total, total_pages, per_page)
    except MalformedAnswer:
        client.stats.count_request_only(view.key)
        raise
    client.stats.count_page(view.entity, view.key, len(records))
    stamps = [t for t in (parse_ts(r.get(settings.SORT_FIELD)) for r in records) if t]
    keys = stamps if order.field == settings.SORT_FIELD else [
        t for t in (order.key(r) for r in records) if t]
    early, late = (max, min) if order.descending else (min, max)
    return Page(
        number=number,
        records=records,
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
    total = _as_int(meta.get("total")) if isinstance(meta, dict) else None
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
    raise MalformedAnswer(
        f"page {number} has {count} records where {expected} were expected "
        f"(meta.total {total}, {asked} per page)"
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
    `concurrency` requests in flight once page 1 told the total (see CREATION).

    A view ends only on evidence: when the pages read account for
    `meta.total`. An answer without the records or `meta`, or a short page
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
            self.order = CHANGES if self.cursor is not None else CREATION

    def pages(self) -> Iterator[Page]:
        first = self._first()
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

    def fresh_records(self, page: Page) -> list[dict[str, Any]]:
        """The records of a page not already loaded by the previous sync."""
        if self.cursor is None and self.resume is None:
            return page.records
        cursor, known = self.cursor, self.cursor_ids
        fresh = []
        for record in page.records:
            stamp = parse_ts(record.get(settings.SORT_FIELD))
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
                    r.get("id") for r in page.records
                    if parse_ts(r.get(settings.SORT_FIELD)) == newest
                )
        if in_order and page.last is not None:
            self._advance(page)
        return page

    def _advance(self, page: Page) -> None:
        last = cast(datetime, page.last)
        here = frozenset(r.get("id") for r in page.records if self.order.key(r) == last)
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
        return page.number >= pages_for(latest.total, self.per_page)

    def _rest_of_view(self, first: Page, ahead: int) -> Iterator[tuple[Page, bool]]:
        pending: deque[Future[Page]] = deque()
        next_number = first.number + 1
        previous = first
        latest = first  # the page with the freshest meta seen so far
        with ThreadPoolExecutor(max_workers=max(1, ahead)) as pool:
            try:
                while True:
                    limit = max(pages_for(latest.total, self.per_page), previous.number + 1)
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


def _total_dropped(previous: Page, page: Page) -> bool:
    if previous.total is None or page.total is None:
        return False
    return page.total < previous.total


# ---------------------------------------------------------------- records


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


def flatten_record(record: dict[str, Any], extracted_at: datetime) -> dict[str, Any]:
    """`custom_field` -> `custom_field__cf_*` text columns, plus `_extracted_at`."""
    custom = record.pop("custom_field", None)
    if isinstance(custom, dict):
        for key, value in custom.items():
            record[f"custom_field__{key}"] = as_text(value)
    elif custom is not None:
        record["custom_field"] = as_text(custom)
    for key in ("amount", "annual_revenue"):
        value = record.get(key)
        if isinstance(value, float):
            record[key] = repr(value)  # exact decimal text of the JSON number
    record["_extracted_at"] = extracted_at
    return record


def flatten_page(records: list[dict[str, Any]], fetched_at: datetime) -> list[dict[str, Any]]:
    return [flatten_record(r, fetched_at) for r in records]

