"""A fault-injecting HTTP proxy for the extractor tests.

A real ``ThreadingHTTPServer`` on 127.0.0.1 (ephemeral port, daemon thread) that
forwards every request (method, path, query string, headers incl. Authorization,
body) to an upstream, normally the sandbox, and returns its answer byte for byte,
except where a ``Rule`` says otherwise::

    with fault_proxy(sb.base_url) as proxy:
        proxy.add_rule(Rule(r"/deals/view/\\d+$", params={"page": "3"}, times=1,
                            status=200, body={"errors": {"code": 500, "message": ["boom"]}}))
        run_extract(base_url=proxy.base_url, ...)
        assert proxy.count(r"/deals/view/") == ...

Matching is decided on the request alone, before the upstream answers. Rules are
checked in order and the first one that applies wins; a rule still skipping
(``skip``) or used up (``times``) does not claim the request, the next rule is
checked. A ``status`` rule answers itself: the request never reaches the upstream
(a faulted PUT changes nothing). The other actions edit the upstream answer.
"""

from __future__ import annotations

import http.client
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

import orjson

# Headers that describe one connection, not the message: never copied across.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate",
                         "proxy-authorization", "proxy-connection", "te", "trailer",
                         "transfer-encoding", "upgrade", "content-length"})
# Also not forwarded upstream: Host is the upstream's, and no compression lets
# the proxy edit JSON bodies.
_NOT_FORWARDED = _HOP_BY_HOP | {"host", "accept-encoding"}
JSON_TYPE = "application/json; charset=utf-8"
UPSTREAM_TIMEOUT_S = 60.0

Seen = tuple[str, str, dict[str, str]]  # (method, path, query)


@dataclass
class Rule:
    """Which requests (``path`` regex searched in the URL path, ``params`` that must
    equal, ``method``), how many (``skip`` the first matches, then ``times``; None =
    forever) and what to do to them.

    Body actions, at most one: ``status`` (+ ``body``: dict/list sent as JSON,
    str/bytes sent as is, None = empty) replaces the answer; ``drop_key`` removes a
    top-level key of the JSON answer; ``truncate=(key, n)`` keeps the first n items
    of the top-level array ``key``; ``set_field=(key, field, value)`` sets ``field``
    on every item of the top-level array ``key`` (or on the object ``key``, e.g.
    ``"deal"``). ``headers`` (value None = remove) and ``delay_s`` (sleep before
    answering) may stand alone or go with a body action. Answers that are not JSON
    objects, or lack ``key``, pass unchanged (the rule still counts as applied).
    """

    path: str
    params: dict[str, Any] | None = None
    method: str | None = None
    times: int | None = None
    skip: int = 0
    status: int | None = None
    body: Any = None
    drop_key: str | None = None
    truncate: tuple[str, int] | None = None
    set_field: tuple[str, str, Any] | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    delay_s: float = 0.0
    matched: int = field(default=0, init=False)  # requests that matched so far
    applied: int = field(default=0, init=False)  # of which the rule acted on

    def __post_init__(self) -> None:
        re.compile(self.path)
        edits = [a for a in (self.status, self.drop_key, self.truncate, self.set_field)
                 if a is not None]
        if len(edits) > 1:
            raise ValueError("a Rule takes at most one of status, drop_key, truncate, set_field")
        if not edits and not self.headers and not self.delay_s:
            raise ValueError("a Rule needs an action: status, drop_key, truncate, "
                             "set_field, headers or delay_s")
        if self.body is not None and self.status is None:
            raise ValueError("body goes with status")
        if self.skip < 0 or (self.times is not None and self.times < 0) or self.delay_s < 0:
            raise ValueError("skip, times and delay_s must be >= 0")

    def matches(self, method: str, path: str, query: dict[str, str]) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and re.search(self.path, path) is not None
                and all(query.get(k) == str(v) for k, v in (self.params or {}).items()))

    def take(self) -> bool:
        """Count one matching request; True when the rule acts on it (caller locks)."""
        self.matched += 1
        if self.matched <= self.skip:
            return False
        if self.times is not None and self.applied >= self.times:
            return False
        self.applied += 1
        return True


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class FaultProxy:
    """The running proxy; see the module docstring."""

    def __init__(self, upstream_base_url: str) -> None:
        self.upstream: SplitResult = urlsplit(upstream_base_url)
        if self.upstream.scheme not in ("http", "https") or not self.upstream.netloc:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream_base_url!r}")
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._seen: list[Seen] = []
        self.server = _ProxyServer(self)
        port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}{self.upstream.path.rstrip('/')}"

    def add_rule(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def requests(self) -> list[Seen]:
        """Every request seen so far, in order of arrival (a copy)."""
        with self._lock:
            return list(self._seen)

    def count(self, path_regex: str, method: str | None = None) -> int:
        """Requests seen whose path matches ``path_regex`` (and ``method``, if given)."""
        pattern = re.compile(path_regex)
        return sum(1 for m, path, _ in self.requests
                   if pattern.search(path) and (method is None or m == method.upper()))

    def decide(self, method: str, path: str, query: dict[str, str]) -> Rule | None:
        """Record the request and return the rule that acts on it, if any."""
        with self._lock:
            self._seen.append((method, path, query))
            for rule in self._rules:
                if rule.matches(method, path, query) and rule.take():
                    return rule
        return None

    def forward(self, method: str, target: str, headers: Message, body: bytes) -> Answer:
        conn_class = (http.client.HTTPSConnection if self.upstream.scheme == "https"
                      else http.client.HTTPConnection)
        conn = conn_class(self.upstream.netloc, timeout=UPSTREAM_TIMEOUT_S)
        sent = {k: v for k, v in headers.items() if k.lower() not in _NOT_FORWARDED}
        try:
            conn.request(method, target, body=body if body or method != "GET" else None,
                         headers=sent)
            resp = conn.getresponse()
            return Answer(resp.status, _keep(resp.getheaders()), resp.read())
        except (OSError, http.client.HTTPException) as exc:
            message = f"fault proxy: upstream {self.upstream.netloc} failed: {exc!r}"
            return Answer(502, [("Content-Type", JSON_TYPE)], _error(502, message))
        finally:
            conn.close()


def _keep(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]


def _error(status: int, message: str) -> bytes:
    return orjson.dumps({"errors": {"code": status, "message": [message]}})


def canned(rule: Rule) -> Answer:
    """The answer of a ``status`` rule."""
    assert rule.status is not None
    if rule.body is None:
        return Answer(rule.status, [], b"")
    if isinstance(rule.body, bytes | str):
        data = rule.body.encode() if isinstance(rule.body, str) else rule.body
        return Answer(rule.status, [("Content-Type", "text/plain; charset=utf-8")], data)
    return Answer(rule.status, [("Content-Type", JSON_TYPE)], orjson.dumps(rule.body))


def edit_json(rule: Rule, data: dict[str, Any]) -> None:
    """Apply the drop_key / truncate / set_field action of ``rule`` to ``data`` in place."""
    if rule.drop_key is not None:
        data.pop(rule.drop_key, None)
    if rule.truncate is not None:
        key, n = rule.truncate
        if isinstance(data.get(key), list):
            data[key] = data[key][:n]
    if rule.set_field is not None:
        key, name, value = rule.set_field
        target = data.get(key)
        items = target if isinstance(target, list) else [target]
        for item in items:
            if isinstance(item, dict):
                item[name] = value


def rewrite(rule: Rule, answer: Answer) -> Answer:
    """The upstream (or canned) answer as ``rule`` wants it."""
    body = answer.body
    if rule.drop_key is not None or rule.truncate is not None or rule.set_field is not None:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            edit_json(rule, data)
            body = orjson.dumps(data)
    names = {k.lower() for k in rule.headers}
    headers = [(k, v) for k, v in answer.headers if k.lower() not in names]
    headers += [(k, v) for k, v in rule.headers.items() if v is not None]
    return Answer(answer.status, headers, body)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout during delay_s) is expected, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _ProxyServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._proxy("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._proxy("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._proxy("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._proxy("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._proxy("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _proxy(self, method: str) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        proxy = self.server.proxy
        rule = proxy.decide(method, url.path, query)
        if rule is not None and rule.status is not None:
            answer = canned(rule)
        else:
            answer = proxy.forward(method, self.path, self.headers, body)
        if rule is not None:
            answer = rewrite(rule, answer)
            time.sleep(rule.delay_s)
        self._send(answer)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, answer: Answer) -> None:
        self.send_response_only(answer.status)  # no Server/Date of our own: upstream's stay
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


@contextmanager
def fault_proxy(upstream_base_url: str) -> Iterator[FaultProxy]:
    """Serve a FaultProxy in front of ``upstream_base_url`` until the block ends."""
    proxy = FaultProxy(upstream_base_url)
    thread = threading.Thread(target=proxy.server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        thread.join(timeout=5)
