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
from typing import Any

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
    pass


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
                    f"the CRM's rate limit resets in {wait:.1f} s, longer than the "
                    f"{self.max_wait_s:g} s this run may wait; run again later "
                    "(views read to the end keep their progress)"
                )
            with self._stats.lock:
                self._stats.rate_limit_waits_s += wait
            time.sleep(wait)

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


# ---------------------------------------------------------------- client


@dataclass(frozen=True)
class RetryPolicy:
    """How long a run insists before it gives up on one request."""

    max_attempts: int = 6
    backoff_factor: float = 1.0
    max_delay_s: float = 30.0
    timeout_s: float = 60.0


class CrmClient:
    """Thread-safe access to one Freshsales account.

    Each thread gets its own RESTClient over a session of one shared dlt
    `Client` (retries, connection pool).
    """

    def __init__(
        self, base_url: str, api_key: str, stats: RunStats, limiter: RateLimiter,
        retry: RetryPolicy | None = None, max_connections: int = 16,
    ) -> None:
        retry = retry or RetryPolicy()
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.stats = stats
        self.limiter = limiter
        self._http = Client(
            request_timeout=retry.timeout_s,
            max_connections=max_connections,
            raise_for_status=False,
            request_max_attempts=retry.max_attempts,
            request_backoff_factor=retry.backoff_factor,
            request_max_retry_delay=retry.max_delay_s,
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
        self.stats.count_response(response.status_code)
        self.limiter.observe(response.headers)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a path under /api and parse it; raise CrmError subclasses."""
        self.limiter.acquire()
        try:
            response = self._rest().get(path, params=params)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise CrmUnreachable(
                f"cannot reach the CRM at {self.base_url} ({type(exc).__name__}); "
                "check CRM_BASE_URL and the network"
            ) from None
        _raise_for_status(response, self.base_url, path)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise CrmError(
                f"the CRM at {self.base_url} answered {path} with something that is "
                "not JSON; is CRM_BASE_URL the Freshsales URL ending in /crm/sales?"
            ) from None


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
    if status == 429:
        raise RateLimitExhausted(
            f"the CRM at {base_url} kept answering 429 (rate limit) after retries; "
            "run again later (views read to the end keep their progress)"
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
    return {f["name"]: int(f["id"]) for f in data.get("filters", []) if "name" in f}


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


@dataclass
class Page:
    number: int
    records: list[dict[str, Any]]
    total: int | None
    total_pages: int | None
    fetched_at: datetime
    newest: datetime | None = None
    oldest: datetime | None = None


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
) -> Page:
    params = {
        "page": number,
        "per_page": per_page,
        "sort": settings.SORT_FIELD,
        "sort_type": "desc",
    }
    if include:
        params["include"] = include
    fetched_at = datetime.now(UTC)
    data = client.get_json(f"{view.entity}/view/{view.id}", params)
    records = data.get(view.entity) or []
    meta = data.get("meta") or {}
    client.stats.count_page(view.entity, view.key, len(records))
    stamps = [t for t in (parse_ts(r.get(settings.SORT_FIELD)) for r in records) if t]
    return Page(
        number=number,
        records=records,
        total=_as_int(meta.get("total")),
        total_pages=_as_int(meta.get("total_pages")),
        fetched_at=fetched_at,
        newest=max(stamps) if stamps else None,
        oldest=min(stamps) if stamps else None,
    )


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
    """Reads one view newest first and stops where the last sync ended.

    `cursor` is the newest `updated_at` the previous complete scan of this
    view saw (None: first sync, read everything). Paging stops after the
    first page whose oldest record is older than the cursor; records equal
    to the cursor are read again; those whose id the previous scan already
    had at that instant (`cursor_ids`) are not loaded again.

    A full scan fetches pages 2..n with up to `concurrency` requests in
    flight once page 1 told the total. If `meta.total` drops between two
    consecutive pages, records were deleted or moved out of the view while
    paging and the later records shifted up: the boundary is read again so
    none is skipped. If `meta.total` grows, the extra pages at the end are
    read too. `new_cursor` is set only when the scan ran to its end.
    """

    client: CrmClient
    view: View
    cursor: datetime | None
    include: str
    per_page: int = settings.PAGE_SIZE
    concurrency: int = 4
    max_repair_pages: int = 5
    cursor_ids: frozenset[Any] = frozenset()
    new_cursor: datetime | None = None
    new_cursor_ids: frozenset[Any] = frozenset()
    finished: bool = False
    _newest: datetime | None = None
    _newest_ids: set[Any] = field(default_factory=set)

    def pages(self) -> Iterator[Page]:
        first = self._fetch(1)
        yield self._seen(first)
        if not self._done(first, first):
            ahead = self.concurrency if self.cursor is None else 1
            for page in self._rest_of_view(first, ahead):
                yield self._seen(page)
        if self._newest is None or (self.cursor is not None and self._newest < self.cursor):
            self._newest, self._newest_ids = self.cursor, set(self.cursor_ids)
        self.new_cursor = self._newest
        self.new_cursor_ids = frozenset(self._newest_ids)
        self.finished = True

    def fresh_records(self, page: Page) -> list[dict[str, Any]]:
        """The records of a page not already loaded by the previous sync."""
        if self.cursor is None:
            return page.records
        cursor, known = self.cursor, self.cursor_ids
        fresh = []
        for record in page.records:
            stamp = parse_ts(record.get(settings.SORT_FIELD))
            if stamp is None or stamp > cursor:
                fresh.append(record)
            elif stamp == cursor and record.get("id") not in known:
                fresh.append(record)
        return fresh

    def _fetch(self, number: int) -> Page:
        return fetch_page(self.client, self.view, number, self.include, self.per_page)

    def _seen(self, page: Page) -> Page:
        """Track the newest `updated_at` of the scan and the ids that carry it."""
        newest = page.newest
        if newest is None:
            return page
        if self._newest is None or newest > self._newest:
            self._newest, self._newest_ids = newest, set()
        if newest == self._newest:
            self._newest_ids.update(
                r.get("id") for r in page.records
                if parse_ts(r.get(settings.SORT_FIELD)) == newest
            )
        return page

    def _done(self, page: Page, latest: Page) -> bool:
        """After `page` (in order), is the view read far enough?"""
        if not page.records:
            return True
        if self.cursor is not None and page.oldest is not None and page.oldest < self.cursor:
            return True
        return page.number >= pages_for(latest.total, self.per_page)

    def _rest_of_view(self, first: Page, ahead: int) -> Iterator[Page]:
        pending: deque[Future[Page]] = deque()
        next_number = 2
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
                        yield from self._repair(previous, page)
                    yield page
                    if self._done(page, latest):
                        return
                    previous = page
            finally:
                for future in pending:
                    future.cancel()

    def _repair(self, before: Page, after: Page) -> Iterator[Page]:
        """Re-read around the boundary between two pages after a delete.

        Records that sat just after `before` may have shifted into it after
        it was read. They have `updated_at` between the oldest of `before`
        and the newest of `after`; read page `before.number` again (and the
        following ones while they still reach into that range).
        """
        low = after.newest
        number = before.number
        for _ in range(self.max_repair_pages):
            page = self._fetch(number)
            with self.client.stats.lock:
                self.client.stats.gap_rereads += 1
            yield page
            if not page.records or page.oldest is None or low is None or page.oldest < low:
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

