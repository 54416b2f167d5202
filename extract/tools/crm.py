"""The few Freshsales calls the write-back tools make: fetch, search, update, create.

Bodies are wrapped in the singular module key (`{"deal": {...}}`), as the API
documents. Reads and PUTs are idempotent and retried on 429/502/503/504 and on
a lost connection, honouring Retry-After up to `max_wait_s`; a longer wait is
not waited out but reported with the time to retry. A POST (a create) is
retried only on 429, which the CRM answers before doing anything: anything
else could have created the record, so it is never sent twice.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from extract.tools.contract import API_WRAPPERS, RAW_TABLES
from extract.tools.db import ToolError

RETRY_STATUS = (429, 502, 503, 504)
SEARCH_BATCH = 100  # values per filtered_search request, and records per page


class WriteError(Exception):
    """One failed CRM call: the HTTP status (0 when no answer) and a short reason.

    `retry_at` is set when the CRM asked to wait longer than the tool waits:
    nothing more should be sent before then.
    """

    def __init__(self, status: int, reason: str, retry_at: dt.datetime | None = None) -> None:
        super().__init__(f"HTTP {status}: {reason}" if status else reason)
        self.status = status
        self.retry_at = retry_at


@dataclass
class WriteClient:
    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 30.0
    max_wait_s: float = 30.0
    attempts: int = 4
    requests_sent: int = 0

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Token token={self.api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )

    def _send(self, method: str, path: str, body: Any = None,
              params: dict[str, Any] | None = None) -> Any:
        """The parsed JSON answer of one call, retried where that is safe."""
        url = f"{self.base_url}/api/{path}"
        for attempt in range(1, self.attempts + 1):
            self.requests_sent += 1
            try:
                resp = self.session.request(method, url, json=body, params=params,
                                            timeout=(5, self.timeout))
            except requests.RequestException as exc:
                if method == "POST" or attempt == self.attempts:
                    raise WriteError(0, _no_answer(method, exc)) from None
                time.sleep(0.5 * 2 ** attempt)
                continue
            retry = resp.status_code in RETRY_STATUS and (
                method != "POST" or resp.status_code == 429)
            if retry and attempt < self.attempts:
                time.sleep(self._wait(resp, attempt))
                continue
            if resp.status_code >= 400:
                raise WriteError(resp.status_code, _error_reason(resp))
            try:
                return resp.json()
            except ValueError:
                raise WriteError(resp.status_code, "the answer is not JSON") from None
        raise AssertionError("unreachable")

    def _wait(self, resp: requests.Response, attempt: int) -> float:
        """Seconds to wait before retrying; WriteError when the CRM wants longer."""
        wait = _retry_after(resp.headers.get("Retry-After"))
        if wait is None:
            return 0.5 * 2 ** attempt
        if wait > self.max_wait_s:
            at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
            raise WriteError(
                resp.status_code,
                f"the CRM asks to wait {wait:.0f} s (Retry-After); retry after "
                f"{at:%Y-%m-%d %H:%M} UTC", retry_at=at,
            )
        return wait

    def _record(self, payload: Any, entity: str) -> dict[str, Any]:
        record = payload.get(API_WRAPPERS[entity]) if isinstance(payload, dict) else None
        if not isinstance(record, dict):
            got = type(payload).__name__ if not isinstance(payload, dict) else "object"
            raise WriteError(
                200, f"the answer has no {API_WRAPPERS[entity]!r} record (a JSON {got})")
        if not isinstance(record.get("id"), int) or isinstance(record.get("id"), bool):
            raise WriteError(200, f"the answer's {API_WRAPPERS[entity]!r} record has no id")
        return record

    def get(self, entity: str, crm_id: int) -> dict[str, Any]:
        return self._record(self._send("GET", f"{RAW_TABLES[entity]}/{crm_id}"), entity)

    def update(self, entity: str, crm_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        payload = self._send("PUT", f"{RAW_TABLES[entity]}/{crm_id}",
                             {API_WRAPPERS[entity]: changes})
        return self._record(payload, entity)

    def create(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        payload = self._send("POST", RAW_TABLES[entity], {API_WRAPPERS[entity]: fields})
        return self._record(payload, entity)

    def search(self, entity: str, attribute: str, values: list[str]) -> dict[str, list[int]]:
        """Value of `attribute` -> CRM ids of the live records that carry it
        (`POST filtered_search/{entity}`, `is_in`, 100 values a request)."""
        found: dict[str, list[int]] = {}
        for start in range(0, len(values), SEARCH_BATCH):
            batch = values[start:start + SEARCH_BATCH]
            rule = {"filter_rule": [{"attribute": attribute, "operator": "is_in",
                                     "value": batch}]}
            page = 1
            while True:
                payload = self._send("POST", f"filtered_search/{API_WRAPPERS[entity]}", rule,
                                     {"page": page, "per_page": SEARCH_BATCH})
                records, pages = _search_page(payload, RAW_TABLES[entity])
                for record in records:
                    value = _attribute(record, attribute)
                    if value is not None and isinstance(record.get("id"), int):
                        found.setdefault(value, []).append(record["id"])
                if page >= pages:
                    break
                page += 1
        return found


def _search_page(payload: Any, module: str) -> tuple[list[dict[str, Any]], int]:
    records = payload.get(module) if isinstance(payload, dict) else None
    meta = payload.get("meta") if isinstance(payload, dict) else None
    if not isinstance(records, list) or not isinstance(meta, dict):
        raise WriteError(200, f"the search answer has no {module!r} list and meta")
    try:
        pages = int(meta.get("total_pages") or 1)
    except (TypeError, ValueError):
        raise WriteError(200, "the search answer's meta.total_pages is not a number") from None
    return [r for r in records if isinstance(r, dict)], pages


def _attribute(record: dict[str, Any], attribute: str) -> str | None:
    custom = record.get("custom_field")
    value = (custom or {}).get(attribute) if attribute.startswith("cf_") else record.get(
        attribute)
    return None if value is None else str(value)


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _no_answer(method: str, exc: requests.RequestException) -> str:
    reason = f"no answer from the CRM ({type(exc).__name__})"
    if method == "POST":
        return (f"{reason}; the create may or may not have reached the CRM: a rerun looks "
                "the record up first")
    return reason


def _error_reason(resp: requests.Response) -> str:
    try:
        payload = resp.json()
    except ValueError:
        return resp.reason or "error"
    errors = payload.get("errors") if isinstance(payload, dict) else None
    message = errors.get("message") if isinstance(errors, dict) else None
    if message is None and isinstance(payload, dict):
        message = payload.get("message")
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    return " ".join(str(message or resp.reason or "error").split())[:200]


def client_from_settings() -> WriteClient:
    """A client for the CRM the extractor reads (CRM_BASE_URL / CRM_API_TOKEN, else
    dlt's sources.freshsales config); names what is missing."""
    from extract.config import ConfigError, crm_account, load_settings

    try:
        settings = load_settings()
        account = crm_account(settings)
    except ConfigError as exc:
        raise ToolError(str(exc)) from None
    if account is None:
        raise ToolError(
            "no CRM is set (CRM_BASE_URL and CRM_API_TOKEN, or sources.freshsales.base_url "
            "and api_key); write-back needs the CRM to write to"
        )
    return WriteClient(account.base_url, account.api_key, timeout=_timeout())


def _timeout() -> float:
    """CRM_REQUEST_TIMEOUT_S: how long one answer may take (default 30 s)."""
    text = os.environ.get("CRM_REQUEST_TIMEOUT_S", "").strip()
    try:
        value = float(text) if text else 30.0
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise ToolError(f"CRM_REQUEST_TIMEOUT_S must be seconds between 0 and 600, got {text!r}")
    return value
