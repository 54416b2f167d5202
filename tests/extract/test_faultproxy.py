"""The fault proxy against a real sandbox: plain forwarding, then each action of a Rule."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from extract_helpers import sandbox
from faultproxy import FaultProxy, Rule, fault_proxy

DEAL = 18_000_000_020
LIST = r"/deals/view/\d+$"
BOOM = {"errors": {"code": 500, "message": ["boom"]}}


class Pair:
    """The same calls straight to the sandbox and through the proxy."""

    def __init__(self, sb: Any, proxy: FaultProxy) -> None:
        self.sb, self.proxy = sb, proxy
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token token={sb.api_key}"
        views = self.direct("deals/filters").json()["filters"]
        self.all_deals = next(v["id"] for v in views if v["name"] == "All Deals")

    def direct(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(f"{self.sb.base_url}/api/{path}", params=params, timeout=10)

    def via(self, path: str, method: str = "GET", timeout: float = 10, **kwargs: Any
            ) -> requests.Response:
        return self.session.request(method, f"{self.proxy.base_url}/api/{path}",
                                    timeout=timeout, **kwargs)

    def page(self, page: int, proxied: bool = True) -> requests.Response:
        params = {"page": page, "per_page": 100}
        path = f"deals/view/{self.all_deals}"
        return self.via(path, params=params) if proxied else self.direct(path, **params)


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    # an hour's budget, so x-ratelimit-remaining only goes down during the tests
    with sandbox(rate_limit=10_000, rate_window_s=3600) as running:
        yield running


@pytest.fixture
def pair(sb: Any) -> Iterator[Pair]:
    with fault_proxy(sb.base_url) as proxy:
        yield Pair(sb, proxy)


def _assert_consistent(resp: requests.Response) -> None:
    assert resp.headers["Content-Length"] == str(len(resp.content))


def test_without_rules_it_forwards_everything_unchanged(pair: Pair) -> None:
    proxy = pair.proxy
    assert proxy.base_url.endswith("/crm/sales") and proxy.base_url != pair.sb.base_url
    direct, via = pair.page(2, proxied=False), pair.page(2)
    assert via.status_code == 200 and via.content == direct.content
    assert via.headers["Content-Type"] == direct.headers["Content-Type"]
    assert via.headers["Server"].startswith("SandboxCRM/1.0")  # upstream's, not ours
    assert "Date" in via.headers and via.headers["x-ratelimit-limit"] == "10000"
    assert int(via.headers["x-ratelimit-remaining"]) < int(direct.headers["x-ratelimit-remaining"])
    _assert_consistent(via)
    # Authorization goes upstream: without it the sandbox says 401
    bare = requests.get(f"{proxy.base_url}/api/deals/filters", timeout=10)
    assert bare.status_code == 401 and "Token token=" in bare.json()["message"]
    assert proxy.requests == [
        ("GET", f"/crm/sales/api/deals/view/{pair.all_deals}", {"page": "2", "per_page": "100"}),
        ("GET", "/crm/sales/api/deals/filters", {}),
    ]


def test_put_post_delete_bodies_reach_the_sandbox(pair: Pair) -> None:
    put = pair.via(f"deals/{DEAL}", "PUT", json={"deal": {"amount": "4321.0"}})
    assert put.status_code == 200 and put.json()["deal"]["amount"] == "4321.0"
    assert pair.direct(f"deals/{DEAL}").json()["deal"]["amount"] == "4321.0"
    made = pair.via("deals", "POST", json={"deal": {"name": "Via proxy"}})
    assert made.status_code == 200
    new_id = made.json()["deal"]["id"]
    assert pair.direct(f"deals/{new_id}").json()["deal"]["name"] == "Via proxy"
    gone = pair.via(f"deals/{new_id}", "DELETE")
    assert gone.status_code == 200 and "Recycle Bin" in gone.json()["message"]
    assert pair.direct(f"deals/{new_id}").json()["deal"]["is_deleted"] is True
    assert [m for m, _, _ in pair.proxy.requests] == ["PUT", "POST", "DELETE"]
    assert pair.proxy.count(r"/deals/\d+$") == 2
    assert pair.proxy.count(r"/deals/\d+$", method="delete") == 1


def test_status_rule_replaces_the_answer_of_matching_pages_only(pair: Pair) -> None:
    rule = pair.proxy.add_rule(Rule(LIST, params={"page": "3"}, times=1, status=200, body=BOOM))
    assert pair.page(2).content == pair.page(2, proxied=False).content
    faulted = pair.page(3)
    assert faulted.status_code == 200 and faulted.json() == BOOM
    assert "x-ratelimit-limit" not in faulted.headers  # answered by the proxy alone
    _assert_consistent(faulted)
    assert pair.page(3).content == pair.page(3, proxied=False).content  # times=1 used up
    assert (rule.matched, rule.applied) == (2, 1)
    assert pair.proxy.count(LIST) == 3


def test_status_rule_with_skip_and_an_empty_body(pair: Pair) -> None:
    pair.proxy.add_rule(Rule(LIST, skip=2, times=2, status=503))
    codes = [pair.page(1).status_code for _ in range(5)]
    assert codes == [200, 200, 503, 503, 200]
    pair.proxy.clear_rules()
    pair.proxy.add_rule(Rule(LIST, status=200, body={}))
    empty = pair.page(1)
    assert empty.status_code == 200 and empty.json() == {}


def test_a_faulted_put_never_reaches_the_sandbox(pair: Pair) -> None:
    before = pair.direct(f"deals/{DEAL + 1}").json()["deal"]
    pair.proxy.add_rule(Rule(rf"/deals/{DEAL + 1}$", method="PUT", status=500, body=BOOM))
    resp = pair.via(f"deals/{DEAL + 1}", "PUT", json={"deal": {"amount": "1.0"}})
    assert resp.status_code == 500 and resp.json() == BOOM
    assert pair.via(f"deals/{DEAL + 1}").json()["deal"] == before  # GET is not faulted
    assert pair.direct(f"deals/{DEAL + 1}").json()["deal"] == before


def test_drop_key_removes_meta_and_nothing_else(pair: Pair) -> None:
    pair.proxy.add_rule(Rule(LIST, drop_key="meta"))
    direct, via = pair.page(1, proxied=False).json(), pair.page(1)
    assert "meta" in direct and "meta" not in via.json()
    assert via.json()["deals"] == direct["deals"]
    _assert_consistent(via)


def test_truncate_keeps_the_first_items_and_the_meta(pair: Pair) -> None:
    pair.proxy.add_rule(Rule(LIST, params={"page": 1}, truncate=("deals", 50)))
    direct, via = pair.page(1, proxied=False).json(), pair.page(1)
    assert len(direct["deals"]) == 100
    assert via.json()["deals"] == direct["deals"][:50]
    assert via.json()["meta"] == direct["meta"] and direct["meta"]["total"] > 100
    assert len(via.content) < len(pair.page(1, proxied=False).content)
    _assert_consistent(via)
    assert len(pair.page(2).json()["deals"]) == 100  # params={"page": 1} only


def test_set_field_sets_every_item_and_single_records(pair: Pair) -> None:
    pair.proxy.add_rule(Rule(LIST, set_field=("deals", "name", "a\x00b")))
    pair.proxy.add_rule(Rule(r"/deals/\d+$", set_field=("deal", "updated_at",
                                                        "2099-01-01T00:00:00Z")))
    direct, via = pair.page(1, proxied=False).json(), pair.page(1)
    assert [d["name"] for d in via.json()["deals"]] == ["a\x00b"] * 100
    assert [{**d, "name": None} for d in via.json()["deals"]] == \
        [{**d, "name": None} for d in direct["deals"]]
    _assert_consistent(via)
    one = pair.via(f"deals/{DEAL}").json()["deal"]
    assert one["updated_at"] == "2099-01-01T00:00:00Z"
    assert one["id"] == DEAL and pair.direct(f"deals/{DEAL}").json()["deal"]["updated_at"] < "2030"


def test_headers_add_override_and_remove(pair: Pair) -> None:
    date = "Wed, 01 Jan 2031 00:00:00 GMT"
    pair.proxy.add_rule(Rule(LIST, headers={"date": date, "x-ratelimit-remaining": "0",
                                            "x-ratelimit-reset": "2.5", "Retry-After": "7",
                                            "Server": None}))
    via = pair.page(1)
    assert via.status_code == 200
    assert via.headers["Date"] == date and via.headers["Retry-After"] == "7"
    assert (via.headers["x-ratelimit-remaining"], via.headers["x-ratelimit-reset"]) == ("0", "2.5")
    assert via.headers["x-ratelimit-limit"] == "10000"  # the rest stays upstream's
    assert "Server" not in via.headers
    assert via.content == pair.page(1, proxied=False).content
    _assert_consistent(via)


def test_delay_holds_the_answer_and_a_client_timeout_does_not_break_the_proxy(
        pair: Pair) -> None:
    rule = pair.proxy.add_rule(Rule(LIST, delay_s=0.4, times=2))
    start = time.perf_counter()
    assert pair.page(1).status_code == 200
    assert time.perf_counter() - start >= 0.4
    with pytest.raises(requests.ReadTimeout):
        pair.via(f"deals/view/{pair.all_deals}", timeout=0.1)
    assert rule.applied == 2
    start = time.perf_counter()
    assert pair.page(1).status_code == 200
    assert time.perf_counter() - start < 0.4


def test_first_matching_rule_wins_and_parallel_requests_are_all_counted(pair: Pair) -> None:
    pair.proxy.add_rule(Rule(LIST, params={"page": "2"}, status=429,
                             headers={"Retry-After": "1"}))
    pair.proxy.add_rule(Rule(LIST, truncate=("deals", 1)))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: pair.page(1 + n % 2), range(40)))
    assert sorted(r.status_code for r in answers) == [200] * 20 + [429] * 20
    assert all(len(r.json()["deals"]) == 1 for r in answers if r.status_code == 200)
    assert all(r.headers["Retry-After"] == "1" for r in answers if r.status_code == 429)
    assert pair.proxy.count(LIST) == 40 and len(pair.proxy.requests) == 40


BAD_RULES: list[dict[str, Any]] = [
    {"status": 500, "drop_key": "meta"},
    {"truncate": ("deals", 1), "set_field": ("deals", "name", "x")},
    {},
    {"drop_key": "meta", "body": {}},
    {"skip": -1, "status": 500},
]


@pytest.mark.parametrize("bad", BAD_RULES)
def test_rules_refuse_mixed_or_missing_actions(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Rule(LIST, **bad)


def test_unreachable_upstream_is_a_502() -> None:
    with sandbox() as gone:
        url = gone.base_url
    with fault_proxy(url) as proxy:
        resp = requests.get(f"{proxy.base_url}/api/deals/filters", timeout=10)
        assert resp.status_code == 502 and resp.json()["errors"]["code"] == 502
