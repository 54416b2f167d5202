"""HTTP front of the sandbox: Freshsales paths under ``/crm/sales/api/``, plus faults.

Stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive (every
response carries Content-Length and goes out in one write), orjson bodies.
Order of checks per API request: latency, auth (401), rate limit (429), random
failure (5xx), then the route. ``POST /admin/mutate`` needs the key but is
never rate limited or failed.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from . import catalog as c
from .config import SandboxConfig
from .store import Store
from .validate import Invalid, unwrap

API = "/crm/sales/api/"
ADMIN_PATHS = ("/admin/mutate", "/crm/sales/admin/mutate")
SORTS = ("updated_at", "id", "created_at")

# include token -> (record field, side-load key, selector entries)
_SIDELOADS: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    "owner": ("owner_id", "users", c.USERS),
    "creater": ("owner_id", "users", c.USERS),
    "updater": ("owner_id", "users", c.USERS),
    "deal_stage": ("deal_stage_id", "deal_stages", c.DEAL_STAGES),
    "deal_pipeline": ("deal_pipeline_id", "deal_pipelines", c.DEAL_PIPELINES),
    "territory": ("territory_id", "territories", c.TERRITORIES),
    "industry_type": ("industry_type_id", "industry_types", c.INDUSTRY_TYPES),
    "lead_source": ("lead_source_id", "lead_sources", c.LEAD_SOURCE_ITEMS),
    "deal_reason": ("deal_reason_id", "deal_reasons", c.DEAL_REASONS),
    "deal_type": ("deal_type_id", "deal_types", c.DEAL_TYPES),
    "business_type": ("business_type_id", "business_types", c.BUSINESS_TYPES),
    "currency": ("currency_id", "currencies", c.CURRENCIES),
    "contact_status": ("contact_status_id", "contact_statuses", c.CONTACT_STATUSES),
    "lifecycle_stage": ("lifecycle_stage_id", "lifecycle_stages", c.LIFECYCLE_STAGES),
    "campaign": ("campaign_id", "campaigns", c.CAMPAIGNS),
}
_BY_ID = {token: {item["id"]: item for item in items}
          for token, (_, _, items) in _SIDELOADS.items()}
# Like Freshsales, bare deals and contacts omit these keys unless `include` asks for them.
_HIDDEN: dict[str, dict[str, str]] = {
    "deals": {"owner_id": "owner", "deal_reason_id": "deal_reason"},
    "contacts": {"owner_id": "owner"}, "sales_accounts": {}, "leads": {}, "tasks": {},
    "appointments": {}, "sales_activities": {}}
# Modules whose list answer carries no meta.total_pages (PostHog saw it on appointments).
_NO_TOTAL_PAGES = {"appointments"}


class ApiError(Exception):
    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(messages[0] if messages else str(status))
        self.status = status
        self.messages = list(messages)


def error_body(status: int, messages: list[str]) -> dict[str, Any]:
    return {"errors": {"code": status, "message": messages}}


class WindowBudget:
    """Fixed windows of ``window_s`` seconds, aligned to the Unix epoch (window k covers
    ``[k * window_s, (k + 1) * window_s)``): at most ``limit`` requests per window."""

    def __init__(self, limit: int, window_s: float = 1.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._window = 0
        self._count = 0

    def hit(self) -> tuple[bool, dict[str, str]]:
        now = time.time()
        window = math.floor(now / self.window_s)
        with self._lock:
            # Only a newer window resets the count: a request that read the clock just
            # before a racing thread opened the next window counts against that one.
            if window > self._window:
                self._window, self._count = window, 0
            window = self._window
            allowed = self._count < self.limit
            if allowed:
                self._count += 1
            remaining = self.limit - self._count
        # x-ratelimit-reset: seconds until the window resets, to the
        # millisecond (a window of one second makes whole seconds too coarse
        # to pace by); Retry-After: whole seconds, as HTTP has it.
        until_reset = max(0.0, (window + 1) * self.window_s - now)
        headers = {"x-ratelimit-limit": str(self.limit),
                   "x-ratelimit-remaining": str(remaining),
                   "x-ratelimit-reset": f"{until_reset:.3f}"}
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(until_reset)))
        return allowed, headers


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.limiter = (WindowBudget(config.rate_limit, config.rate_window_s)
                        if config.rate_limit else None)
        self._faults = random.Random(config.seed)
        self._faults_lock = threading.Lock()
        super().__init__((config.host, config.port), Handler)

    def random_failure(self) -> int | None:
        if self.config.fail_rate <= 0:
            return None
        with self._faults_lock:
            if self._faults.random() >= self.config.fail_rate:
                return None
            return self._faults.choice((500, 502, 503))

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}/crm/sales"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: SandboxHTTPServer
    server_version = "SandboxCRM/1.0"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.config.access_log:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    # -- plumbing ---------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        extra: dict[str, str] = {}
        try:
            status, payload = self._handle(method, body, extra)
        except ApiError as exc:
            status, payload = exc.status, error_body(exc.status, exc.messages)
            if exc.status == 401:
                payload["message"] = exc.messages[0]
        except Invalid as exc:
            status, payload = 400, error_body(400, exc.messages)
        except Exception as exc:  # noqa: BLE001 - answer 500 instead of dropping the socket
            sys.stderr.write(f"sandbox: {method} {self.path} failed: {exc!r}\n")
            status, payload = 500, error_body(500, ["Internal error in the sandbox"])
        self._send(status, payload, extra)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        # Headers and body in one write: no Nagle/delayed-ACK stalls on keep-alive.
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        self._headers_buffer.append(data)  # type: ignore[attr-defined]
        self.flush_headers()

    def _check_auth(self) -> None:
        given = (self.headers.get("Authorization") or "").strip()
        prefix = "Token token="
        key = given[len(prefix):].strip().strip('"') if given.startswith(prefix) else None
        if key != self.server.config.api_key:
            reason = "Missing" if not given else "Invalid"
            raise ApiError(401, f"{reason} API key: send 'Authorization: Token token=<key>'")

    def _handle(self, method: str, body: bytes, extra: dict[str, str]) -> tuple[int, Any]:
        cfg = self.server.config
        url = urlsplit(self.path)
        path = url.path
        if cfg.latency_ms:
            time.sleep(cfg.latency_ms / 1000)
        if path == "/health":
            return 200, {"status": "ok"}
        if path in ADMIN_PATHS:
            self._check_auth()
            if method != "POST":
                raise ApiError(405, f"{method} is not allowed on {path}")
            return 200, self._mutate(_json(body))
        if not path.startswith(API):
            raise ApiError(404, f"Not found: {path}")
        self._check_auth()
        if self.server.limiter is not None:
            allowed, headers = self.server.limiter.hit()
            extra.update(headers)
            if not allowed:
                raise ApiError(429, "Rate limit exceeded: retry after the number of seconds"
                                    " in Retry-After")
        failure = self.server.random_failure()
        if failure is not None:
            raise ApiError(failure, f"Injected failure {failure} (--fail-rate)")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        return self._route(method, path[len(API):].strip("/").split("/"), query, body)

    # -- routes -----------------------------------------------------------------------------
    def _route(self, method: str, parts: list[str], query: dict[str, str],
               body: bytes) -> tuple[int, Any]:
        if parts[0] == "selector":
            _only(method, "GET")
            return 200, _selector(parts[1:])
        if parts[0] == "filtered_search" and len(parts) == 2:
            _only(method, "POST")
            return 200, self._search(parts[1], _json(body), query)
        entity = parts[0]
        if entity == "leads" and not self.server.config.leads_module:
            raise ApiError(404, "Module not enabled")
        includes = {t.strip() for t in query.get("include", "").split(",") if t.strip()}
        if entity in c.LISTS and len(parts) == 1:
            _only(method, "GET")
            return 200, self._list_module(entity, query, includes)
        if entity not in c.ENTITIES:
            raise ApiError(404, f"Not found: {API}{'/'.join(parts)}")
        if len(parts) == 1:
            _only(method, "POST")
            return 200, self._create(entity, _json(body), includes)
        if len(parts) == 2 and parts[1] == "filters":
            _only(method, "GET")
            return 200, self._filters(entity)
        if len(parts) == 3 and parts[1] == "view":
            _only(method, "GET")
            return 200, self._list(entity, _int(parts[2], "view id", 404), query, includes)
        if len(parts) == 2:
            crm_id = _int(parts[1], "id", 404)
            if method == "GET":
                return 200, self._one(entity, crm_id, includes)
            if method == "PUT":
                return 200, self._update(entity, crm_id, _json(body), includes)
            if method == "DELETE":
                return 200, self._delete(entity, crm_id)
            raise ApiError(405, f"{method} is not allowed here")
        raise ApiError(404, f"Not found: {API}{'/'.join(parts)}")

    def _filters(self, entity: str) -> dict[str, Any]:
        views = self.server.store.listed_views(entity)
        return {"filters": [
            {"id": v.id, "name": v.name, "model_class_name": c.MODEL_CLASS[entity],
             "user_id": c.ME, "is_default": i == 0, "updated_at": "2021-06-14T09:12:44-06:00",
             "user_name": None, "current_user_permissions": []}
            for i, v in enumerate(views)], "meta": {}}

    def _list(self, entity: str, view_id: int, query: dict[str, str],
              includes: set[str]) -> dict[str, Any]:
        store = self.server.store
        view = store.view_by_id(entity, view_id)
        if view is None:
            raise ApiError(404, f"No view {view_id} for {entity}")
        page, per_page, sort, desc = self._paging(query)
        records, total = store.page(entity, view.key, page, per_page, sort, desc)
        out = self._sideloads(entity, records, includes)
        out[entity] = _shape(entity, records, includes)
        out["meta"] = {"total_pages": math.ceil(total / per_page), "total": total}
        return out

    def _list_module(self, entity: str, query: dict[str, str],
                     includes: set[str]) -> dict[str, Any]:
        """`GET tasks?filter=...`, `GET appointments?filter=...`, `GET sales_activities`:
        paged like a view; appointments' meta has no total_pages."""
        filters = c.LIST_FILTERS[entity]
        key = "all"
        if filters:
            given = query.get("filter")
            if not given:
                raise ApiError(400, f"filter is required: one of {', '.join(filters)}")
            if given not in filters:
                raise ApiError(400, f"Unknown filter '{given[:40]}': use one of "
                                    f"{', '.join(filters)}")
            key = given
        page, per_page, sort, desc = self._paging(query)
        records, total = self.server.store.page(entity, key, page, per_page, sort, desc)
        out = self._sideloads(entity, records, includes)
        out[entity] = _shape(entity, records, includes)
        meta: dict[str, int] = {"total": total}
        if entity not in _NO_TOTAL_PAGES:
            meta["total_pages"] = math.ceil(total / per_page)
        out["meta"] = meta
        return out

    def _paging(self, query: dict[str, str]) -> tuple[int, int, str, bool]:
        """(page, per_page, sort, descending) of a list request; 400 on bad values."""
        page = _int(query.get("page", "1"), "page", 400)
        per_page = min(self.server.config.max_per_page,
                       _int(query.get("per_page", "25"), "per_page", 400))
        if page < 1 or per_page < 1:
            raise ApiError(400, "page and per_page must be positive integers")
        sort = query.get("sort") or "id"
        if sort not in SORTS:
            raise ApiError(400, f"Unsupported sort '{sort}': use one of {', '.join(SORTS)}")
        sort_type = (query.get("sort_type") or "asc").lower()
        if sort_type not in ("asc", "desc"):
            raise ApiError(400, "sort_type must be asc or desc")
        return page, per_page, sort, sort_type == "desc"

    def _search(self, singular: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        """`POST filtered_search/{deal|contact|sales_account}`: live records whose
        attributes match every rule (`is`, `is_in`, `is_not_null`; a `cf_*`
        attribute is a custom field), by id, paged like a view."""
        entity = {c.SINGULAR[e]: e for e in c.ENTITIES}.get(singular)
        if entity == "leads" and not self.server.config.leads_module:
            raise ApiError(404, "Module not enabled")
        if entity is None:
            raise ApiError(404, f"Not found: {API}filtered_search/{singular}")
        rules = body.get("filter_rule") if isinstance(body, dict) else None
        if not isinstance(rules, list) or not rules:
            raise ApiError(400, "filter_rule must be a non-empty list")
        matchers = [_matcher(rule) for rule in rules]
        page = _int(query.get("page", "1"), "page", 400)
        per_page = min(self.server.config.max_per_page,
                       _int(query.get("per_page", "25"), "per_page", 400))
        store = self.server.store
        found = [rec for rec in (store.get(entity, i) for i in range(store.count(entity)))
                 if not rec.get("is_deleted") and all(m(rec) for m in matchers)]
        records = found[(page - 1) * per_page: page * per_page]
        return {entity: _shape(entity, records, set()),
                "meta": {"total_pages": math.ceil(len(found) / per_page), "total": len(found)}}

    def _one(self, entity: str, crm_id: int, includes: set[str]) -> dict[str, Any]:
        rec = self.server.store.by_id(entity, crm_id)
        if rec is None:
            raise ApiError(404, f"No {c.SINGULAR[entity]} with id {crm_id}")
        out = self._sideloads(entity, [rec], includes)
        out[c.SINGULAR[entity]] = _shape(entity, [rec], includes)[0]
        return out

    def _update(self, entity: str, crm_id: int, body: Any,
                includes: set[str]) -> dict[str, Any]:
        store, cfg = self.server.store, self.server.config
        if store.index_of(entity, crm_id) is None:
            raise ApiError(404, f"No {c.SINGULAR[entity]} with id {crm_id}")
        if crm_id in cfg.fail_ids:
            raise ApiError(cfg.fail_ids_status,
                           f"Could not update {c.SINGULAR[entity]} {crm_id} (--fail-ids)")
        rec = store.update(entity, crm_id, unwrap(entity, body))
        if rec is None:
            raise ApiError(404, f"No {c.SINGULAR[entity]} with id {crm_id}")
        return {c.SINGULAR[entity]: _shape(entity, [rec], includes)[0]}

    def _create(self, entity: str, body: Any, includes: set[str]) -> dict[str, Any]:
        rec = self.server.store.create(entity, unwrap(entity, body))
        return {c.SINGULAR[entity]: _shape(entity, [rec], includes)[0]}

    def _delete(self, entity: str, crm_id: int) -> dict[str, Any]:
        if self.server.store.delete(entity, crm_id) is None:
            raise ApiError(404, f"No {c.SINGULAR[entity]} with id {crm_id}")
        return {"message": f"{c.SINGULAR[entity]} {crm_id} moved to the Recycle Bin"}

    def _mutate(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or "entity" not in body:
            raise ApiError(400, 'Body must be {"entity": ..., "count": K} or {..., "ids": [...]}')
        count, ids = body.get("count"), body.get("ids")
        if (count is None) == (ids is None):
            raise ApiError(400, "Give exactly one of 'count' and 'ids'")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ApiError(400, "'count' must be a non-negative integer")
        if ids is not None and not isinstance(ids, list):
            raise ApiError(400, "'ids' must be a list of record ids")
        changed = self.server.store.mutate(str(body["entity"]), count=count, ids=ids,
                                           delete=bool(body.get("delete")))
        return {"ids": changed}

    def _sideloads(self, entity: str, records: list[dict[str, Any]],
                   includes: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for token in sorted(includes):
            if token in ("sales_account", "sales_accounts") and entity != "sales_accounts":
                out["sales_accounts"] = self._accounts_of(records)
            elif token in _SIDELOADS:
                field, key, _ = _SIDELOADS[token]
                seen = out.setdefault(key, [])
                known = {item["id"] for item in seen}
                for rec in records:
                    item = _BY_ID[token].get(rec.get(field) or 0)
                    if item is not None and item["id"] not in known:
                        known.add(item["id"])
                        seen.append(item)
        return out

    def _accounts_of(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        store, out, seen = self.server.store, [], set()
        for rec in records:
            crm_id = rec.get("sales_account_id")
            if crm_id is None or crm_id in seen:
                continue
            seen.add(crm_id)
            account = store.by_id("sales_accounts", crm_id)
            if account is not None:
                out.append(account)
        return out


def _shape(entity: str, records: list[dict[str, Any]], includes: set[str]) -> list[dict]:
    hidden = [f for f, token in _HIDDEN[entity].items() if token not in includes]
    if not hidden:
        return records
    out = []
    for rec in records:
        rec = rec.copy()  # never change a stored record
        for field in hidden:
            rec.pop(field, None)
        out.append(rec)
    return out


def _selector(parts: list[str]) -> dict[str, Any]:
    if len(parts) == 1 and parts[0] in c.SELECTORS:
        key, items = c.SELECTORS[parts[0]]
        return {key: items}
    if len(parts) == 3 and parts[0] == "deal_pipelines" and parts[2] == "deal_stages":
        pipeline = _int(parts[1], "pipeline id", 404)
        if pipeline == c.PIPELINE_ID:
            return {"deal_stages": c.DEAL_STAGES}
    raise ApiError(404, f"No selector {'/'.join(parts)}")


def _only(method: str, allowed: str) -> None:
    if method != allowed:
        raise ApiError(405, f"{method} is not allowed here")


def _int(text: str, what: str, status: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise ApiError(status, f"Invalid {what}: {text[:40]!r}") from None


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise ApiError(400, "Request body is not valid JSON") from None


# -- running -----------------------------------------------------------------------------------
@dataclass
class RunningSandbox:
    """What ``serve_in_thread`` yields."""

    base_url: str
    api_key: str
    state: Store
    server: SandboxHTTPServer


def write_manifest(store: Store, path: str) -> int:
    rows = store.manifest_rows()
    with open(path, "wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")
    return len(rows)


def start(config: SandboxConfig) -> tuple[Store, SandboxHTTPServer]:
    """Validate, generate and bind (raises ValueError / OSError with a clear message)."""
    config.validate()
    store = Store(config)
    if config.manifest:
        write_manifest(store, config.manifest)
    return store, SandboxHTTPServer(config, store)


@contextlib.contextmanager
def serve_in_thread(config: SandboxConfig | None = None) -> Iterator[RunningSandbox]:
    """Serve a sandbox from a daemon thread (port 0 = a free one) until the block ends."""
    store, server = start(config or SandboxConfig())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="sandbox-crm", daemon=True)
    thread.start()
    try:
        yield RunningSandbox(server.base_url, server.config.api_key, store, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _matcher(rule: Any) -> Any:
    """A predicate on a stored record for one filtered_search rule."""
    if not isinstance(rule, dict) or not isinstance(rule.get("attribute"), str):
        raise ApiError(400, "each filter_rule needs an attribute and an operator")
    attribute, operator, value = rule["attribute"], rule.get("operator"), rule.get("value")

    def field(rec: dict[str, Any]) -> Any:
        if attribute.startswith("cf_"):
            return (rec.get("custom_field") or {}).get(attribute)
        return rec.get(attribute)

    def text(v: Any) -> str | None:
        return None if v is None else str(v)

    if operator == "is":
        return lambda rec: text(field(rec)) == text(value)
    if operator == "is_in":
        if not isinstance(value, list):
            raise ApiError(400, "is_in takes a list value")
        wanted = {text(v) for v in value}
        return lambda rec: text(field(rec)) in wanted
    if operator == "is_not_null":
        return lambda rec: field(rec) is not None
    raise ApiError(400, f"Unsupported operator {operator!r}: use is, is_in or is_not_null")
