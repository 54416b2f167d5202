"""Reading through real HTTP: views, paging, sorting, side-loads, selectors, records."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import orjson
import pytest

from extract.sandbox import SandboxConfig, serve_in_thread

from .conftest import VIEW_IDS, Client

VIEWS = [(m, k) for m, keys in VIEW_IDS.items() for k in keys]


@pytest.mark.parametrize(("module", "key"), VIEWS)
@pytest.mark.parametrize("per_page", [100, 7])
def test_every_record_served_exactly_once(client: Client, module: str, key: str,
                                          per_page: int) -> None:
    state = client.sb.state
    records = client.read_all(module, key, per_page)
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids) == state.view_count(module, key)
    assert ids == sorted(ids)  # default order: id ascending
    assert all(state.is_member(module, key, state.by_id(module, i)) for i in ids)


def test_all_and_recycle_bin_cover_every_record(client: Client) -> None:
    for module, size in (("sales_accounts", 200), ("contacts", 1000), ("deals", 1500)):
        live = {r["id"] for r in client.read_all(module, "all", 100)}
        bin_ = {r["id"] for r in client.read_all(module, "deleted", 100)}
        assert not live & bin_
        assert len(live | bin_) == size


@pytest.mark.parametrize("sort_type", ["asc", "desc"])
@pytest.mark.parametrize("per_page", [100, 25, 7])
def test_sort_by_updated_at(client: Client, sort_type: str, per_page: int) -> None:
    deals = client.read_all("deals", "open", per_page, sort="updated_at", sort_type=sort_type)
    stamps = [d["id"] for d in deals]  # generated updated_at grows with the id
    assert stamps == sorted(stamps, reverse=sort_type == "desc")
    assert len(stamps) == client.sb.state.view_count("deals", "open")


def test_sort_by_id_desc_and_default_page_size(client: Client) -> None:
    body = client.view("contacts", "all", sort="id", sort_type="desc")
    ids = [r["id"] for r in body["contacts"]]
    assert len(ids) == 25 and ids == sorted(ids, reverse=True)
    assert ids[0] == max(r["id"] for r in client.read_all("contacts", "all", 100))


def test_page_two_of_all_deals_has_100_records(client: Client) -> None:
    body = client.view("deals", "all", page=2, per_page=100)
    total = client.sb.state.view_count("deals", "all")
    assert len(body["deals"]) == 100
    assert body["meta"] == {"total_pages": -(-total // 100), "total": total}


def test_per_page_is_capped_at_100_and_past_the_end_is_empty(client: Client) -> None:
    assert len(client.view("deals", "all", per_page=500)["deals"]) == 100
    body = client.view("deals", "won", page=999, per_page=100)
    assert body["deals"] == [] and body["meta"]["total"] > 0


def test_bad_paging_parameters_are_400(client: Client) -> None:
    path = f"deals/view/{VIEW_IDS['deals']['all']}"
    for params in ({"page": "x"}, {"page": 0}, {"sort": "name"}, {"sort_type": "up"}):
        resp = client.get(path, **params)
        assert resp.status_code == 400, params
        assert resp.json()["errors"]["code"] == 400


def test_filters_list_views_with_ids_and_names(client: Client) -> None:
    for module, views in VIEW_IDS.items():
        body = client.get(f"{module}/filters").json()
        names = {f["name"]: f["id"] for f in body["filters"]}
        assert set(names.values()) == set(views.values())
        assert "Recycle Bin" in names
    deals = [f["name"] for f in client.get("deals/filters").json()["filters"]]
    assert deals[0] == "All Deals" and {"Open Deals", "Won Deals", "Lost Deals"} <= set(deals)


def test_all_deals_view_can_be_removed_and_views_renamed() -> None:
    config = SandboxConfig(all_deals_view=False, view_names={"deals:open": "Pipeline"})
    with serve_in_thread(config) as sb:
        client = Client(sb)
        names = [f["name"] for f in client.get("deals/filters").json()["filters"]]
        assert "All Deals" not in names and names[0] == "Pipeline"
        assert client.get(f"deals/view/{VIEW_IDS['deals']['all']}").status_code == 404
        assert len(client.view("deals", "open", per_page=10)["deals"]) == 10


def test_side_loads_and_hidden_keys(client: Client) -> None:
    bare = client.view("deals", "all", per_page=50)
    assert "users" not in bare and all("owner_id" not in d for d in bare["deals"])
    body = client.view("deals", "all", per_page=50, include="owner,sales_account,deal_stage")
    deals = body["deals"]
    users = {u["id"] for u in body["users"]}
    assert {d["owner_id"] for d in deals} == users
    stages = {s["id"]: s for s in body["deal_stages"]}
    assert {d["deal_stage_id"] for d in deals if d["deal_stage_id"]} == set(stages)
    accounts = {a["id"]: a for a in body["sales_accounts"]}
    for d in deals:
        if d["sales_account_id"] in accounts:
            assert accounts[d["sales_account_id"]]["custom_field"]["cf_account_id"] \
                == d["custom_field"]["cf_account_id"]
    assert len(accounts) >= 40
    contacts = client.view("contacts", "all", per_page=20, include="sales_accounts,owner")
    assert {c["sales_account_id"] for c in contacts["contacts"]} == \
        {a["id"] for a in contacts["sales_accounts"]}
    assert all("owner_id" in c for c in contacts["contacts"])


def test_one_record_wrapped_with_side_loads(client: Client) -> None:
    body = client.get("deals/18000000010", include="owner").json()
    assert body["deal"]["id"] == 18000000010
    assert body["users"][0]["id"] == body["deal"]["owner_id"]
    account = client.get("sales_accounts/16000000001").json()["sales_account"]
    assert account["custom_field"]["cf_account_id"] == "1001"
    contact = client.get("contacts/17000000001").json()["contact"]
    assert contact["external_id"] == "C-0000001"


@pytest.mark.parametrize(("name", "key"), [
    ("owners", "users"), ("deal_stages", "deal_stages"), ("deal_pipelines", "deal_pipelines"),
    ("territories", "territories"), ("industry_types", "industry_types"),
    ("lead_sources", "lead_sources"), ("business_types", "business_types"),
    ("deal_reasons", "deal_reasons"), ("currencies", "currencies"),
])
def test_selectors(client: Client, name: str, key: str) -> None:
    body = client.get(f"selector/{name}").json()
    assert list(body) == [key] and len(body[key]) >= (1 if name == "deal_pipelines" else 2)
    assert all("id" in item for item in body[key])


def test_selectors_carry_canonical_and_unmapped_labels(client: Client) -> None:
    territories = {t["name"] for t in client.get("selector/territories").json()["territories"]}
    assert territories == {"North America", "Europe", "Asia", "EMEA", "LATAM", "Oceania"}
    stages = client.get("selector/deal_stages").json()["deal_stages"]
    forecast = {s["name"]: s["forecast_type"] for s in stages}
    assert forecast["Closed-Won"] == "Won" and forecast["Closed-Lost"] == "Lost"
    assert forecast["Prospecting"] == forecast["On Hold"] == "Open"
    pipeline = client.get("selector/deal_pipelines").json()["deal_pipelines"][0]
    nested = client.get(f"selector/deal_pipelines/{pipeline['id']}/deal_stages").json()
    assert nested["deal_stages"] == stages


def test_keep_alive_serves_many_requests_on_one_connection(client: Client) -> None:
    url = urlsplit(client.sb.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    headers = {"Authorization": f"Token token={client.sb.api_key}"}
    try:
        for page in (1, 2, 3):
            conn.request("GET", f"{url.path}/api/deals/view/{VIEW_IDS['deals']['all']}"
                                f"?page={page}&per_page=100", headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200 and resp.getheader("Connection") != "close"
            assert int(resp.getheader("Content-Length")) == len(body)
            assert len(orjson.loads(body)["deals"]) == 100
    finally:
        conn.close()


def test_manifest_file_from_the_config(tmp_path) -> None:
    path = tmp_path / "manifest.jsonl"
    with serve_in_thread(SandboxConfig(manifest=str(path))) as sb:
        rows = [orjson.loads(line) for line in path.read_text().splitlines()]
        assert rows == sb.state.manifest_rows()
        core = [r for r in rows if r["entity"] in ("sales_accounts", "contacts", "deals")]
        assert len(core) == 135
        assert rows[0].keys() == {"entity", "id", "dirt"}


@pytest.mark.parametrize("sort_type", ["asc", "desc"])
def test_sort_by_created_at(client: Client, sort_type: str) -> None:
    from datetime import datetime

    deals = client.read_all("deals", "won", 7, sort="created_at", sort_type=sort_type)
    stamps = [datetime.fromisoformat(d["created_at"]) for d in deals]
    assert stamps == sorted(stamps, reverse=sort_type == "desc")
    assert len({d["id"] for d in deals}) == client.sb.state.view_count("deals", "won")
