"""The few Freshsales calls the write-back tools make: fetch, update, create.

Bodies are wrapped in the singular module key (`{"deal": {...}}`), as the API
documents. GET and PUT are idempotent and retried on 429/502/503/504
(honouring Retry-After); POST is never retried, so a create is sent once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from extract.tools.db import ToolError

MODULES = {"accounts": "sales_accounts", "contacts": "contacts", "deals": "deals"}
WRAPPERS = {"accounts": "sales_account", "contacts": "contact", "deals": "deal"}


class CrmError(Exception):
    """One failed CRM call: the HTTP status (0 when no answer) and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}" if status else reason)
        self.status = status


@dataclass
class CrmClient:
    base_url: str
    api_key: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        retry = Retry(
            total=4,
            backoff_factor=0.5,
            status_forcelist=(429, 502, 503, 504),
            allowed_methods=frozenset({"GET", "PUT"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers.update(
            {
                "Authorization": f"Token token={self.api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )
        self.requests_sent = 0

    def _call(self, method: str, path: str, entity: str, body: Any = None) -> dict[str, Any]:
        url = f"{self.base_url}/api/{path}"
        self.requests_sent += 1
        try:
            resp = self.session.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise CrmError(0, f"no answer from the CRM ({type(exc).__name__})") from None
        if resp.status_code >= 400:
            raise CrmError(resp.status_code, _error_reason(resp))
        payload = resp.json()
        record = payload.get(WRAPPERS[entity]) if isinstance(payload, dict) else None
        if not isinstance(record, dict):
            raise CrmError(resp.status_code, f"answer without a {WRAPPERS[entity]!r} record")
        return record

    def get(self, entity: str, crm_id: int) -> dict[str, Any]:
        return self._call("GET", f"{MODULES[entity]}/{crm_id}", entity)

    def update(self, entity: str, crm_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"{MODULES[entity]}/{crm_id}", entity, {WRAPPERS[entity]: changes})

    def create(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", MODULES[entity], entity, {WRAPPERS[entity]: fields})


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
    return str(message or resp.reason or "error")[:200]


def client_from_settings() -> CrmClient:
    """A client for CRM_BASE_URL with CRM_API_TOKEN; names the missing variable."""
    from extract.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise ToolError(str(exc)) from None
    if not settings.crm_base_url:
        raise ToolError("CRM_BASE_URL is not set; write-back needs the CRM to write to")
    if not settings.crm_api_token:
        raise ToolError("CRM_API_TOKEN is not set; write-back needs an API key")
    return CrmClient(settings.crm_base_url, settings.crm_api_token)
