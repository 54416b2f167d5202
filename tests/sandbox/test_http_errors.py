"""Auth, unknown paths, bad bodies and injected faults, over real HTTP."""

from __future__ import annotations

import time

import requests

from extract.sandbox import SandboxConfig, serve_in_thread

from .conftest import VIEW_IDS, Client

ALL_DEALS = f"deals/view/{VIEW_IDS['deals']['all']}"


def test_missing_or_wrong_key_is_401_with_a_message(client: Client) -> None:
    url = f"{client.sb.base_url}/api/{ALL_DEALS}"
    for headers in ({}, {"Authorization": "Token token=wrong"}, {"Authorization": "demo"}):
        resp = requests.get(url, headers=headers, timeout=5)
        assert resp.status_code == 401
        assert "Token token=" in resp.json()["message"]
        assert "wrong" not in resp.text


def test_unknown_paths_ids_and_views_are_404(client: Client) -> None:
    for path in ("nothing", "deals/18999999999", "deals/abc", "deals/view/1",
                 "selector/planets", "tickets/filters"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.json()["errors"]["code"] == 404
    assert requests.get(f"{client.root}/elsewhere", timeout=5).status_code == 404


def test_bad_put_field_name_and_type_are_400(client: Client) -> None:
    cases = [
        ({"deal": {"colour": "red"}}, "Unknown field 'colour'"),
        ({"amount": "lots"}, "Invalid value for 'amount'"),
        ({"probability": "high"}, "Invalid value for 'probability'"),
        ({"deal": {"custom_field": {"cf_nope": 1}}}, "Unknown custom field 'cf_nope'"),
        ({"deal_stage_id": 42}, "Invalid value for 'deal_stage_id'"),
        ({"expected_close": "next week"}, "Invalid value for 'expected_close'"),
        ([1, 2], "JSON object"),
    ]
    before = client.get("deals/18000000020").json()["deal"]
    for body, message in cases:
        resp = client.put("deals/18000000020", body)
        assert resp.status_code == 400, body
        errors = resp.json()["errors"]
        assert errors["code"] == 400 and any(message in m for m in errors["message"]), errors
    resp = client.session.put(f"{client.sb.base_url}/api/deals/18000000020", data=b"{nope",
                              timeout=5)
    assert resp.status_code == 400
    assert client.get("deals/18000000020").json()["deal"] == before


def test_rate_limit_answers_429_with_headers() -> None:
    with serve_in_thread(SandboxConfig(rate_limit=5)) as sb:
        client = Client(sb)
        time.sleep(1 - time.time() % 1)  # start at the beginning of a window
        responses = [client.get("selector/owners") for _ in range(8)]
        codes = [r.status_code for r in responses]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        ok, limited = responses[0], responses[codes.index(429)]
        assert ok.headers["x-ratelimit-limit"] == "5"
        assert ok.headers["x-ratelimit-remaining"] == "4"
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["x-ratelimit-remaining"] == "0"
        # seconds to the end of the one-second window, to the millisecond
        assert 0 < float(limited.headers["x-ratelimit-reset"]) <= 1
        assert limited.json()["errors"]["code"] == 429
        time.sleep(int(limited.headers["Retry-After"]))
        assert client.get("selector/owners").status_code == 200


def test_fail_rate_one_fails_every_api_call_but_not_admin() -> None:
    with serve_in_thread(SandboxConfig(fail_rate=1.0)) as sb:
        client = Client(sb)
        codes = set()
        for _ in range(30):
            resp = client.get(ALL_DEALS)
            codes.add(resp.status_code)
            assert resp.json()["errors"]["code"] == resp.status_code
        assert codes <= {500, 502, 503} and len(codes) >= 2
        assert client.mutate({"entity": "deals", "count": 1}).status_code == 200


def test_fail_ids_always_fail_on_put() -> None:
    with serve_in_thread(SandboxConfig(fail_ids=frozenset({18000000003}))) as sb:
        client = Client(sb)
        for _ in range(2):
            resp = client.put("deals/18000000003", {"deal": {"amount": "10.0"}})
            assert resp.status_code == 400 and "fail-ids" in resp.json()["errors"]["message"][0]
        assert client.put("deals/18000000004", {"deal": {"amount": "10.0"}}).status_code == 200
    with serve_in_thread(SandboxConfig(fail_ids=frozenset({18000000003}),
                                       fail_ids_status=500)) as sb:
        assert Client(sb).put("deals/18000000003", {"amount": "1.0"}).status_code == 500


def test_latency_delays_each_answer() -> None:
    with serve_in_thread(SandboxConfig(latency_ms=120)) as sb:
        client = Client(sb)
        start = time.perf_counter()
        assert client.get("selector/owners").status_code == 200
        assert time.perf_counter() - start >= 0.12


def test_config_values_out_of_range_are_refused() -> None:
    for bad in (SandboxConfig(dirt_rate=0.9), SandboxConfig(fail_rate=2),
                SandboxConfig(deals=-1), SandboxConfig(view_names={"deals:hot": "Hot"})):
        try:
            with serve_in_thread(bad):
                raise AssertionError("should not start")
        except ValueError as exc:
            assert str(exc)
