"""PUT, POST, DELETE and /admin/mutate over real HTTP: values, updated_at, views, counts."""

from __future__ import annotations

from datetime import datetime
from threading import Thread

from extract.sandbox.catalog import STAGE_ID

from .conftest import VIEW_IDS, Client

VIEW_KEYS = ("all", "open", "won", "lost", "mine", "deleted")


def _counts(client: Client) -> dict[str, int]:
    return {k: client.view("deals", k, per_page=1)["meta"]["total"] for k in VIEW_KEYS}


def _newest(client: Client, module: str = "deals") -> dict:
    return client.view(module, "all", per_page=1, sort="updated_at",
                       sort_type="desc")[module][0]


def test_put_wrapped_round_trip_moves_record_to_the_front(fresh) -> None:
    client = Client(fresh)
    before = client.get("deals/18000000002").json()["deal"]
    body = {"deal": {"amount": 5000, "name": "Renamed deal",
                     "custom_field": {"cf_deal_stage": "Negotiation"}}}
    resp = client.put("deals/18000000002", body)
    assert resp.status_code == 200
    after = resp.json()["deal"]
    assert after["amount"] == "5000.0" and after["name"] == "Renamed deal"
    assert after["custom_field"]["cf_deal_stage"] == "Negotiation"
    assert after["custom_field"]["cf_deal_id"] == before["custom_field"]["cf_deal_id"]
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(
        before["updated_at"])
    assert after["created_at"] == before["created_at"]
    assert client.get("deals/18000000002").json()["deal"] == after
    assert _newest(client)["id"] == 18000000002


def test_put_unwrapped_body_and_second_edit_order(fresh) -> None:
    client = Client(fresh)
    assert client.put("contacts/17000000005", {"job_title": "CFO"}).status_code == 200
    assert client.put("contacts/17000000003",
                      {"custom_field": {"cf_lead_source": "Referral"}}).status_code == 200
    newest = client.view("contacts", "all", per_page=2, sort="updated_at", sort_type="desc")
    assert [c["id"] for c in newest["contacts"]] == [17000000003, 17000000005]
    assert newest["contacts"][1]["job_title"] == "CFO"
    asc = client.read_all("contacts", "all", 100, sort="updated_at", sort_type="asc")
    assert [c["id"] for c in asc[-2:]] == [17000000005, 17000000003]
    assert len({c["id"] for c in asc}) == len(asc)


def test_edit_during_paging_skips_nothing_in_desc_order(fresh) -> None:
    """Newest first, an edit can only move the edited record to the (read) front:
    every other record is still served; the edited one is newer than the sync start."""
    client = Client(fresh)
    expected = {d["id"] for d in client.read_all("deals", "all", 100)}
    seen, page = set(), 1
    while True:
        body = client.view("deals", "all", page=page, per_page=100, sort="updated_at",
                           sort_type="desc")
        if not body["deals"]:
            break
        seen.update(d["id"] for d in body["deals"])
        if page == 3:  # edit a record further down: it jumps to the front
            assert client.put("deals/18000000050", {"amount": "1.50"}).status_code == 200
        page += 1
    assert expected - seen == {18000000050}
    assert _newest(client)["id"] == 18000000050


def test_stage_change_moves_a_deal_between_views(fresh) -> None:
    client = Client(fresh)
    deal = client.view("deals", "open", per_page=1)["deals"][0]
    before = _counts(client)
    resp = client.put(f"deals/{deal['id']}", {"deal_stage_id": STAGE_ID["Closed-Won"]})
    assert resp.status_code == 200
    after = _counts(client)
    assert after["open"] == before["open"] - 1 and after["won"] == before["won"] + 1
    assert after["all"] == before["all"]
    won = {d["id"] for d in client.read_all("deals", "won", 100)}
    assert deal["id"] in won


def test_post_creates_records_above_the_generated_ids(fresh) -> None:
    client = Client(fresh)
    total = client.view("deals", "all", per_page=1)["meta"]["total"]
    resp = client.post("deals", {"deal": {"name": "New deal", "amount": "99.90",
                                          "deal_stage_id": STAGE_ID["Prospecting"],
                                          "custom_field": {"cf_deal_id": 999999}}})
    assert resp.status_code == 200, resp.text
    deal = resp.json()["deal"]
    assert deal["id"] == 18_000_000_001 + 1500
    assert deal["custom_field"]["cf_deal_id"] == "999999" and deal["amount"] == "99.90"
    assert client.get(f"deals/{deal['id']}").json()["deal"] == deal
    assert client.view("deals", "all", per_page=1)["meta"]["total"] == total + 1
    assert _newest(client)["id"] == deal["id"]
    contact = client.post("contacts", {"first_name": "Zoë", "email": "zoe@x.example"})
    assert contact.json()["contact"]["display_name"] == "Zoë"
    assert client.post("deals", {"amount": 5}).status_code == 400
    assert fresh.state.count("deals") == 1501


def test_delete_moves_a_record_to_the_recycle_bin(fresh) -> None:
    client = Client(fresh)
    before = _counts(client)
    resp = client.session.delete(f"{fresh.base_url}/api/deals/18000000007", timeout=5)
    assert resp.status_code == 200
    assert client.get("deals/18000000007").json()["deal"]["is_deleted"] is True
    after = _counts(client)
    assert after["all"] == before["all"] - 1 and after["deleted"] == before["deleted"] + 1
    assert 18000000007 in {d["id"] for d in client.read_all("deals", "deleted", 100)}


def test_mutate_count_changes_the_oldest_clean_records(fresh) -> None:
    client = Client(fresh)
    before = _counts(client)
    old = {d["id"]: d for d in client.read_all("deals", "all", 100)}
    resp = client.mutate({"entity": "deals", "count": 40})
    assert resp.status_code == 200
    ids = resp.json()["ids"]
    assert len(ids) == len(set(ids)) == 40
    assert not any(fresh.state.dirt("deals", i) for i in ids)
    newest = client.view("deals", "all", per_page=40, sort="updated_at", sort_type="desc")
    assert {d["id"] for d in newest["deals"]} == set(ids)
    for deal in newest["deals"]:
        prev = old[deal["id"]]
        assert datetime.fromisoformat(deal["updated_at"]) > datetime.fromisoformat(
            prev["updated_at"])
        assert deal["amount"] != prev["amount"]
        assert deal["deal_stage_id"] != prev["deal_stage_id"]
    after = _counts(client)
    assert after["all"] == before["all"] and after["deleted"] == before["deleted"]
    assert after["open"] + after["won"] + after["lost"] == after["all"]
    assert after != before
    for key in VIEW_KEYS:
        assert len(client.read_all("deals", key, 100)) == after[key] \
            == fresh.state.view_count("deals", key)
        by_created = client.read_all("deals", key, 100, sort="created_at")
        assert len({d["id"] for d in by_created}) == after[key]


def test_mutate_explicit_ids_keep_dirt_and_delete(fresh) -> None:
    client = Client(fresh)
    numeric = next(r["id"] for r in fresh.state.manifest_rows()
                   if r["entity"] == "deals" and r["dirt"] == ["numeric_amount"])
    resp = client.mutate({"entity": "deals", "ids": [numeric]})
    assert resp.json() == {"ids": [numeric]}
    assert isinstance(client.get(f"deals/{numeric}").json()["deal"]["amount"], int | float)
    before = _counts(client)
    resp = client.mutate({"entity": "sales_accounts", "ids": [16000000001], "delete": True})
    assert resp.status_code == 200
    assert client.get("sales_accounts/16000000001").json()["sales_account"]["is_deleted"]
    accounts_bin = client.view("sales_accounts", "deleted", per_page=100)["sales_accounts"]
    assert 16000000001 in {a["id"] for a in accounts_bin}
    assert _counts(client) == before
    ids = fresh.state.mutate("contacts", count=3)
    assert len(ids) == 3 and _newest(client, "contacts")["id"] == ids[-1]


def test_mutate_bad_requests(fresh) -> None:
    client = Client(fresh)
    for body in ({"entity": "deals"}, {"entity": "planets", "count": 1},
                 {"entity": "deals", "ids": [1]}, {"entity": "deals", "count": -1},
                 {"entity": "deals", "count": 1, "ids": [18000000001]}):
        resp = client.mutate(body)
        assert resp.status_code == 400, body
        assert resp.json()["errors"]["message"]
    anon = client.session.post(f"{client.root}/admin/mutate", json={}, timeout=5,
                               headers={"Authorization": "Token token=x"})
    assert anon.status_code == 401


def test_concurrent_readers_and_writers(fresh) -> None:
    """Four clients page through views while records change: no errors, right totals."""
    errors: list[str] = []

    def reader(key: str) -> None:
        client = Client(fresh)
        for page in range(1, 16):
            resp = client.get(f"deals/view/{VIEW_IDS['deals'][key]}", page=page, per_page=100,
                              sort="updated_at", sort_type="desc")
            if resp.status_code != 200:
                errors.append(resp.text)

    threads = [Thread(target=reader, args=(k,)) for k in ("all", "open", "won", "mine")]
    for t in threads:
        t.start()
    client = Client(fresh)
    for _ in range(20):
        assert client.mutate({"entity": "deals", "count": 5}).status_code == 200
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    counts = _counts(client)
    assert counts["open"] + counts["won"] + counts["lost"] == counts["all"]
    assert counts["all"] + counts["deleted"] == 1500
