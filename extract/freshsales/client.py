"""The HTTP side of the Freshsales source: errors, counters, the rate limiter
and the client.

dlt's requests `Client` retries 5xx answers and read timeouts (honouring
`Retry-After`, exponential back-off, bounded attempts); each thread's session
of it carries the `Authorization: Token token=...` header. (dlt's `RESTClient`
did that until issue 16: its per-request wrapping, building and logging each
request, was about a tenth of the extractor's own time at 100,000 deals, for
no paging of its own here.) What dlt does not
provide lives here: a client-side limiter fed by the `x-ratelimit-*` headers
that paces every thread and stops a run when the CRM's budget resets later
than it may wait, 429s sent back through that limiter, and a connect timeout
that fails a wrong URL at once.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import requests
from dlt.sources.helpers.requests import Client

from . import settings
from .records import strip_nul

# ---------------------------------------------------------------- errors


class CrmError(RuntimeError):
    """A CRM failure with a one-line, secret-free message for the user."""


class AuthRejected(CrmError):
    pass


class CrmUnreachable(CrmError):
    pass


class ViewNotFound(CrmError):
    pass


class NotFound(CrmError):
    """A 404: no such path (a module the account does not have, a wrong URL)."""


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

    def count_request_only(self, view_key: str, malformed: bool = True) -> None:
        """A list request whose answer was not a usable page (retried), or (not
        `malformed`) a first page that told the page size the CRM serves."""
        with self.lock:
            self.list_requests[view_key] += 1
            self.malformed_retries += int(malformed)

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

    Each thread gets its own session of one shared dlt
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
        self._api = f"{self.base_url}/{settings.API_PREFIX}"
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

    def _session(self) -> requests.Session:
        """This thread's session of the shared dlt `Client`, with the CRM's
        headers, and the environment's proxy and CA settings for the CRM's host
        read once (requests reads them again for every request otherwise)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._http.session
            session.hooks["response"].append(self._on_response)
            session.headers.update({"Accept": "application/json",
                                    "Authorization": f"Token token={self._api_key}"})
            if session.trust_env:
                session.proxies.update(requests.utils.get_environ_proxies(self._api))
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                if bundle:
                    session.verify = bundle
                # and no ~/.netrc login in place of the token
                session.trust_env = False
            self._local.session = session
        return session

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
                response = self._session().get(f"{self._api}/{path.lstrip('/')}",
                                               params=params)
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
        raise NotFound(
            f"the CRM at {base_url} has no {path} (404); is CRM_BASE_URL the "
            "Freshsales URL ending in /crm/sales?"
        )
    raise CrmError(f"the CRM at {base_url} answered {path} with HTTP {status} after retries")
