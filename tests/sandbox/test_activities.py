"""Tasks, appointments, sales activities, leads, teams and currencies (issue 13), over HTTP.

Shapes per endpoint, filters that partition, appointments paged without
meta.total_pages, links to existing records, determinism, the leads switch,
mutate, and the dirt manifest of the new modules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest

from extract.sandbox import RunningSandbox, SandboxConfig, Store, serve_in_thread
from extract.sandbox import catalog as c
from extract.sandbox.__main__ import config_from_args
from extract.sandbox.dirt import KINDS

from .conftest import Client

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?([+-]\d\d:\d\d|Z)$")
NOW = datetime(2025, 10, 1, tzinfo=UTC)  # the sandbox clock of the filters
FIELDS = {
    "tasks": {"id", "title", "description", "status", "due_date", "completed_date",
              "targetable_type", "targetable_id", "owner_id", "creater_id", "task_type_id",
              "outcome_id", "created_at", "updated_at"},
    "appointments": {"id", "title", "description", "from_date", "end_date", "time_zone",
                     "location", "is_allday", "targetable_type", "targetable_id", "owner_id",
                     "creater_id", "outcome_id", "created_at", "updated_at"},
    "sales_activities": {"id", "title", "notes", "start_date", "end_date", "owner_id",
                         "creater_id", "sales_activity_type_id", "sales_activity_outcome_id",
                         "targetable_type", "targetable_id", "created_at", "updated_at"},
    "leads": {"id", "first_name", "last_name", "display_name", "email", "job_title",
              "company", "city", "country", "lead_source_id", "lead_stage_id", "owner_id",
              "lead_score", "created_at", "updated_at", "is_deleted"},
}
NEW = ("leads", "tasks", "appointments", "sales_activities")
LEADS_VIEWS = {"all": 204_000_000_401, "mine": 204_000_000_402, "deleted": 204_000_000_403}
USER_IDS = {u["id"] for u in c.USERS}


def read_list(client: Client, entity: str, per_page: int = 100,
              **params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every record of a list module, page by page until an empty page; and each meta."""
    records: list[dict[str, Any]] = []
    metas: list[dict[str, Any]] = []
    page = 1
    while True:
        resp = client.get(entity, page=page, per_page=per_page, **params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        metas.append(body["meta"])
        if not body[entity]:
            return records, metas
        records.extend(body[entity])
        page += 1


def read_leads(client: Client, key: str) -> list[dict[str, Any]]:
    records, page = [], 1
    while True:
        resp = client.get(f"leads/view/{LEADS_VIEWS[key]}", page=page, per_page=100)
        assert resp.status_code == 200, resp.text
        if not resp.json()["leads"]:
            return records
        records.extend(resp.json()["leads"])
        page += 1


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def foreign() -> Iterator[RunningSandbox]:
    """A default-sized tenant where 30% of the deals are in EUR, GBP or INR."""
    with serve_in_thread(SandboxConfig(foreign_currency_share=0.3)) as sb:
        yield sb


@pytest.fixture(scope="module")
def store() -> Store:
    return Store(SandboxConfig(foreign_currency_share=0.3))


# -- shapes and links ---------------------------------------------------------------------------
@pytest.mark.parametrize("entity,params", [("tasks", {"filter": "open"}),
                                           ("appointments", {"filter": "past"}),
                                           ("sales_activities", {})])
def test_list_modules_answer_their_shape(client: Client, entity: str,
                                         params: dict[str, str]) -> None:
    body = client.get(entity, per_page=30, **params).json()
    assert set(body) == {entity, "meta"} and len(body[entity]) == 30
    for rec in body[entity]:
        assert set(rec) >= FIELDS[entity], FIELDS[entity] - set(rec)
        assert TS.match(rec["created_at"]) and TS.match(rec["updated_at"])
        assert rec["targetable_type"] in ("Deal", "Contact", "SalesAccount")
        assert rec["creater_id"] in USER_IDS
    if entity == "appointments":
        assert set(body["meta"]) == {"total"}
    else:
        assert body["meta"]["total_pages"] == -(-body["meta"]["total"] // 30)


def test_leads_are_a_view_module(client: Client) -> None:
    filters = client.get("leads/filters").json()["filters"]
    assert [(f["id"], f["name"]) for f in filters] == [
        (LEADS_VIEWS["all"], "All Leads"), (LEADS_VIEWS["mine"], "My Leads"),
        (LEADS_VIEWS["deleted"], "Recycle Bin")]
    body = client.get(f"leads/view/{LEADS_VIEWS['all']}", per_page=100, page=2,
                      sort="updated_at", sort_type="desc").json()
    assert len(body["leads"]) == 100 and body["meta"]["total_pages"] == 5
    for lead in body["leads"]:
        assert set(lead) >= FIELDS["leads"] and lead["is_deleted"] is False
        assert lead["company"] is None or set(lead["company"]) == {"name"}
        assert isinstance(lead["lead_score"], int) and lead["owner_id"] in USER_IDS
    mine = read_leads(client, "mine")
    assert mine and all(lead["owner_id"] == c.ME for lead in mine)
    assert len(read_leads(client, "all")) + len(read_leads(client, "deleted")) == 500


def test_users_teams_and_the_new_selectors(client: Client) -> None:
    users = client.get("selector/owners").json()["users"]
    teams = client.get("selector/teams").json()["teams"]
    team_ids = {t["id"] for t in teams}
    assert all({"team_id", "is_active"} <= set(u) for u in users)
    assert {u["team_id"] for u in users} - {None} <= team_ids
    assert any(u["team_id"] is None for u in users) and len(team_ids) >= 2
    for name in ("sales_activity_types", "sales_activity_outcomes", "task_types",
                 "lead_stages", "teams", "deal_reasons", "deal_types"):
        items = client.get(f"selector/{name}").json()[name]
        assert items and all({"id", "name", "position"} <= set(i) for i in items), name
    types = {t["id"] for t in client.get("selector/sales_activity_types").json()[
        "sales_activity_types"]}
    outcomes = client.get("selector/sales_activity_outcomes").json()["sales_activity_outcomes"]
    assert {o["sales_activity_type_id"] for o in outcomes} - {None} <= types


def test_links_point_at_existing_records(client: Client, sandbox: RunningSandbox) -> None:
    """Clean tasks, appointments and activities name a live deal, contact or account, an
    owner from the owners list and selector entries that exist; orphans name nothing."""
    state = sandbox.state
    orphans = {(r["entity"], r["id"]) for r in state.manifest_rows() if "orphan" in r["dirt"]}
    entity_of = {v: k for k, v in c.TARGETABLE.items()}
    ids = {"task_type_id": {t["id"] for t in c.TASK_TYPES},
           "sales_activity_type_id": {t["id"] for t in c.SALES_ACTIVITY_TYPES},
           "outcome_id": {o["id"] for o in c.SALES_ACTIVITY_OUTCOMES},
           "sales_activity_outcome_id": {o["id"] for o in c.SALES_ACTIVITY_OUTCOMES}}
    targets: Counter[str] = Counter()
    for entity, params in (("tasks", {"filter": "open"}), ("tasks", {"filter": "completed"}),
                           ("appointments", {"filter": "past"}),
                           ("appointments", {"filter": "upcoming"}),
                           ("sales_activities", {})):
        for rec in read_list(client, entity, **params)[0]:
            target = state.by_id(entity_of[rec["targetable_type"]], rec["targetable_id"])
            if (entity, rec["id"]) in orphans:
                assert target is None, rec
                continue
            targets[rec["targetable_type"]] += 1
            assert target is not None and not target.get("is_deleted"), rec
            assert rec["owner_id"] is None or rec["owner_id"] in USER_IDS
            for field, allowed in ids.items():
                assert rec.get(field) is None or rec[field] in allowed, (field, rec)
    assert min(targets.values()) > 100 and targets["Deal"] > targets["Contact"]


# -- filters, paging and order ---------------------------------------------------------------
def test_task_filters_partition_the_tasks(client: Client, sandbox: RunningSandbox) -> None:
    got = {f: read_list(client, "tasks", filter=f)[0]
           for f in ("open", "completed", "overdue", "due_today")}
    ids = {f: [t["id"] for t in records] for f, records in got.items()}
    everything = set(range(c.ID_BASE["tasks"], c.ID_BASE["tasks"] + 2250))
    assert sandbox.state.gen.sizes["tasks"] == 2250  # 1.5 a deal
    assert set(ids["open"]).isdisjoint(ids["completed"])
    assert set(ids["open"]) | set(ids["completed"]) == everything
    assert len(ids["open"]) + len(ids["completed"]) == 2250
    assert all(t["status"] == 0 and t["completed_date"] is None for t in got["open"])
    assert all(t["status"] == 1 and t["completed_date"] for t in got["completed"])
    overdue = {t["id"] for t in got["open"] if ts(t["due_date"]) < NOW}
    today = {t["id"] for t in got["open"]
             if NOW <= ts(t["due_date"]) < NOW + timedelta(days=1)}
    assert set(ids["overdue"]) == overdue and set(ids["due_today"]) == today
    assert overdue and today
    for f, found in ids.items():
        assert sandbox.state.filter_count("tasks", f) == len(found)


def test_appointment_filters_partition_and_pages_end_empty(client: Client) -> None:
    past, past_meta = read_list(client, "appointments", per_page=40, filter="past")
    upcoming, up_meta = read_list(client, "appointments", per_page=40, filter="upcoming")
    assert all(set(m) == {"total"} for m in past_meta + up_meta)
    assert past_meta[0]["total"] == len(past) and up_meta[0]["total"] == len(upcoming)
    assert len(past_meta) == -(-len(past) // 40) + 1  # one empty page after the last
    ids = [a["id"] for a in past + upcoming]
    assert sorted(ids) == list(range(c.ID_BASE["appointments"],
                                     c.ID_BASE["appointments"] + 750))
    assert all(ts(a["end_date"]) < NOW for a in past)
    assert all(ts(a["end_date"]) >= NOW for a in upcoming) and upcoming
    assert all(ts(a["from_date"]) <= ts(a["end_date"]) for a in past + upcoming)


def test_sales_activities_newest_first_and_by_creation(client: Client) -> None:
    newest, metas = read_list(client, "sales_activities", sort="updated_at", sort_type="desc")
    assert len(newest) == metas[0]["total"] == 4500
    stamps = [ts(a["updated_at"]) for a in newest]
    assert stamps == sorted(stamps, reverse=True)
    assert [a["id"] for a in newest] == sorted((a["id"] for a in newest), reverse=True)
    created, _ = read_list(client, "sales_activities", sort="created_at")
    assert [ts(a["created_at"]) for a in created] == sorted(ts(a["created_at"])
                                                           for a in created)
    assert all(ts(a["start_date"]) <= ts(a["end_date"]) for a in newest)


def test_filter_is_required_and_checked(client: Client) -> None:
    for path, params in (("tasks", {}), ("appointments", {}), ("tasks", {"filter": "late"}),
                         ("appointments", {"filter": "open"})):
        resp = client.get(path, **params)
        assert resp.status_code == 400, (path, params)
        assert "filter" in resp.json()["errors"]["message"][0]
    assert client.get("sales_activities", sort="name").status_code == 400


# -- generation --------------------------------------------------------------------------------
@pytest.mark.parametrize("entity", ["tasks", "appointments"])
def test_filter_indexes_match_the_records(store: Store, entity: str) -> None:
    """The filter indexes are built in bulk with numpy; each record agrees with them."""
    records = [store.gen.record(entity, i) for i in range(store.gen.sizes[entity])]
    for key in ("all", *c.LIST_FILTERS[entity]):
        members = {int(i) for i in store._filters(entity)[key].base}
        want = {i for i, r in enumerate(records) if store.is_member(entity, key, r)}
        assert members == want, key


@pytest.mark.parametrize("entity", NEW)
def test_updated_at_grows_with_the_index(store: Store, entity: str) -> None:
    records = [store.gen.record(entity, i) for i in range(store.gen.sizes[entity])]
    updated = [ts(r["updated_at"]) for r in records]
    assert all(a < b for a, b in zip(updated, updated[1:], strict=False))
    assert all(ts(r["created_at"]) <= ts(r["updated_at"]) for r in records)
    assert len(Counter(r["updated_at"][19:] for r in records)) >= 6
    vectorised = store.gen.updated_many(entity, np.arange(len(records)))
    assert [int(x) for x in vectorised[:50]] == [int(u.timestamp()) for u in updated[:50]]


def test_volumes_follow_the_options() -> None:
    config = config_from_args(["--deals", "40", "--contacts", "30", "--activities-per-deal",
                               "2", "--tasks-per-deal", "0.25", "--appointments-per-deal",
                               "1", "--leads", "7"])
    sizes = Store(config).gen.sizes
    assert (sizes["sales_activities"], sizes["tasks"], sizes["appointments"],
            sizes["leads"]) == (80, 10, 40, 7)
    assert Store(SandboxConfig(contacts=30, deals=40)).gen.sizes["leads"] == 15
    with pytest.raises(ValueError, match="--tasks-per-deal"):
        SandboxConfig(tasks_per_deal=-1).validate()
    with pytest.raises(ValueError, match="--foreign-currency-share"):
        SandboxConfig(foreign_currency_share=1.5).validate()


def test_same_seed_same_bytes_other_seed_other_data() -> None:
    paths = [("tasks", {"filter": "open"}), ("appointments", {"filter": "upcoming"}),
             ("sales_activities", {}), (f"leads/view/{LEADS_VIEWS['all']}", {}),
             (f"deals/view/{203_000_000_301}", {"include": "owner"})]
    bodies = []
    for seed in (5, 5, 6):
        with serve_in_thread(SandboxConfig(seed=seed, deals=300, contacts=200,
                                           foreign_currency_share=0.3)) as sb:
            client = Client(sb)
            bodies.append([client.get(p, per_page=100, **q).content for p, q in paths])
            bodies[-1].append(repr(sb.state.manifest_rows()).encode())
    assert bodies[0] == bodies[1]
    assert all(a != b for a, b in zip(bodies[0], bodies[2], strict=True))


# -- currencies ---------------------------------------------------------------------------------
def test_currencies_list_a_base_and_fixed_rates(client: Client) -> None:
    items = client.get("selector/currencies").json()["currencies"]
    by_code = {i["currency_code"]: i for i in items}
    assert {"USD", "EUR", "GBP", "INR"} <= set(by_code)
    assert [i["currency_code"] for i in items if i["currency_type"] == 1] == ["USD"]
    assert by_code["USD"]["exchange_rate"] == "1.0"
    for item in items:
        assert set(item) >= {"id", "currency_code", "exchange_rate", "is_active",
                             "currency_type", "schedule_info"}
        assert isinstance(item["exchange_rate"], str) and Decimal(item["exchange_rate"]) > 0


def test_base_currency_amount_is_the_amount_at_the_rate(foreign: RunningSandbox) -> None:
    client = Client(foreign)
    rates = {i["id"]: Decimal(i["exchange_rate"])
             for i in client.get("selector/currencies").json()["currencies"]}
    deals = client.read_all("deals", "all", 100) + client.read_all("deals", "deleted", 100)
    assert len(deals) == 1500
    unknown = {r["id"] for r in foreign.state.manifest_rows()
               if "unknown_currency" in r["dirt"]}
    counted: Counter[int] = Counter()
    for deal in deals:
        counted[deal["currency_id"]] += 1
        if deal["id"] in unknown:
            assert deal["currency_id"] not in rates and deal["base_currency_amount"] is None
            continue
        assert deal["currency_id"] in rates
        if deal["amount"] is None:
            assert deal["base_currency_amount"] is None
            continue
        want = (Decimal(str(deal["amount"])) / rates[deal["currency_id"]]).quantize(
            Decimal("0.01"), ROUND_HALF_UP)
        assert Decimal(deal["base_currency_amount"]) == want, deal
    foreign_share = 1 - counted[c.USD] / 1500
    assert 0.25 < foreign_share < 0.35 and len(counted) == 5  # USD, EUR, GBP, INR, unknown


def test_single_currency_tenant_keeps_its_deals(store: Store) -> None:
    """Share 0: every deal in USD at its own amount, the deals' dirt as before; share 0.3
    changes only the currency fields of the deals (and adds unknown_currency dirt)."""
    single = Store(SandboxConfig(foreign_currency_share=0))
    assert single.gen.plans["deals"].names == KINDS["deals"]
    for i in range(1500):
        one, other = single.gen.record("deals", i), store.gen.record("deals", i)
        assert one["currency_id"] == c.USD
        if one["amount"] is None:
            assert one["base_currency_amount"] is None
        else:
            assert Decimal(one["base_currency_amount"]) == Decimal(str(one["amount"]))
        same = {k for k in one if k not in ("currency_id", "base_currency_amount")}
        if not store.dirt("deals", one["id"]) and not single.dirt("deals", one["id"]):
            assert {k: one[k] for k in same} == {k: other[k] for k in same}
    dirt = Counter(d for r in single.manifest_rows() for d in r["dirt"])
    assert dirt["unknown_currency"] == 0


def test_put_amount_keeps_base_currency_amount_consistent(fresh: RunningSandbox) -> None:
    client = Client(fresh)
    gbp = next(i["id"] for i in c.CURRENCIES if i["currency_code"] == "GBP")
    deal = client.put("deals/18000000002", {"deal": {"amount": "790.00",
                                                     "currency_id": gbp}}).json()["deal"]
    assert deal["base_currency_amount"] == "1000.0"
    deal = client.put("deals/18000000002", {"deal": {"amount": 79}}).json()["deal"]
    assert deal["base_currency_amount"] == "100.0"
    bad = client.put("deals/18000000002", {"deal": {"currency_id": c.UNKNOWN_CURRENCY_ID}})
    assert bad.status_code == 400


# -- the leads switch -----------------------------------------------------------------------------
def test_tenant_without_leads_answers_404_on_every_leads_path() -> None:
    with serve_in_thread(SandboxConfig(deals=50, leads_module=False)) as sb:
        client = Client(sb)
        for resp in (client.get("leads/filters"),
                     client.get(f"leads/view/{LEADS_VIEWS['all']}"),
                     client.get("leads/21000000001"),
                     client.put("leads/21000000001", {"lead": {"lead_score": 3}}),
                     client.post("leads", {"lead": {"email": "a@b.example"}}),
                     client.post("filtered_search/lead",
                                 {"filter_rule": [{"attribute": "email", "operator": "is",
                                                   "value": "a@b.example"}]})):
            assert resp.status_code == 404
            assert resp.json() == {"errors": {"code": 404, "message": ["Module not enabled"]}}
        assert client.get("tasks", filter="open").status_code == 200
        assert sb.state.gen.sizes["leads"] == 0
        assert not [r for r in sb.state.manifest_rows() if r["entity"] == "leads"]
        assert client.mutate({"entity": "leads", "count": 1}).status_code == 400


# -- mutate ---------------------------------------------------------------------------------------
def test_mutate_moves_updated_at_and_deletes(fresh: RunningSandbox) -> None:
    client, state = Client(fresh), fresh.state
    open_before = state.filter_count("tasks", "open")
    done = client.mutate({"entity": "tasks", "count": 3}).json()["ids"]
    assert len(done) == 3
    newest = client.get("tasks", filter="completed", sort="updated_at", sort_type="desc",
                        per_page=3).json()["tasks"]
    assert [t["id"] for t in newest] == done[::-1]
    assert all(ts(t["updated_at"]) > NOW for t in newest)
    changed_open = sum(1 for t in newest if ts(t["completed_date"]) > NOW)
    assert state.filter_count("tasks", "open") == open_before - changed_open
    # Deletes: gone from every filter, the total drops, the id is unknown afterwards.
    for entity, params in (("tasks", {"filter": "completed"}),
                           ("appointments", {"filter": "past"}), ("sales_activities", {})):
        first = client.get(entity, per_page=1, **params).json()
        victim = first[entity][0]["id"]
        assert client.mutate({"entity": entity, "ids": [victim], "delete": True}).json() == {
            "ids": [victim]}
        after = client.get(entity, per_page=1, **params).json()
        assert after["meta"]["total"] == first["meta"]["total"] - 1
        assert after[entity][0]["id"] != victim
        assert client.mutate({"entity": entity, "ids": [victim]}).status_code == 400
        moved = client.mutate({"entity": entity, "count": 2}).json()["ids"]
        # Appointments: the least recently updated may be past or upcoming.
        top = [t for f in ((params,) if entity != "appointments"
                           else ({"filter": "past"}, {"filter": "upcoming"}))
               for t in client.get(entity, sort="updated_at", sort_type="desc", per_page=2,
                                   **f).json()[entity]]
        top = sorted(top, key=lambda t: ts(t["updated_at"]), reverse=True)[:2]
        assert [t["id"] for t in top] == moved[::-1]
        assert all(ts(t["updated_at"]) > NOW for t in top)
    assert state.filter_count("sales_activities") == 4499


def test_mutate_leads_like_contacts(fresh: RunningSandbox) -> None:
    client, state = Client(fresh), fresh.state
    live, binned = state.view_count("leads", "all"), state.view_count("leads", "deleted")
    ids = client.mutate({"entity": "leads", "count": 2}).json()["ids"]
    top = client.get(f"leads/view/{LEADS_VIEWS['all']}", sort="updated_at",
                     sort_type="desc", per_page=2).json()["leads"]
    assert [lead["id"] for lead in top] == ids[::-1]
    client.mutate({"entity": "leads", "ids": ids[:1], "delete": True})
    assert state.view_count("leads", "all") == live - 1
    bin_ = read_leads(client, "deleted")
    assert len(bin_) == binned + 1 and ids[0] in {lead["id"] for lead in bin_}


# -- dirt -----------------------------------------------------------------------------------------
def test_new_modules_carry_every_dirt_kind(store: Store) -> None:
    seen = Counter((r["entity"], d.split(":")[0] if d.startswith("duplicate_of") else d)
                   for r in store.manifest_rows() for d in r["dirt"])
    for entity in NEW:
        for kind in KINDS[entity]:
            assert seen[(entity, kind)] >= 1, (entity, kind)
    assert seen[("deals", "unknown_currency")] >= 1
    for extra in ("missing:description", "missing:location", "missing:notes",
                  "missing:company"):
        assert any(kind == extra for _, kind in seen), extra
    assert not any(seen[(e, "deleted")] for e in c.LISTS)


def test_dirt_shows_in_the_new_records(store: Store) -> None:
    records = {e: {r["id"]: r for r in (store.gen.record(e, i)
                                         for i in range(store.gen.sizes[e]))} for e in NEW}
    entity_of = {v: k for k, v in c.TARGETABLE.items()}
    emails = Counter(r["email"] for r in records["leads"].values() if r["email"])
    dirty = {(r["entity"], r["id"]) for r in store.manifest_rows()}
    for row in store.manifest_rows():
        if row["entity"] not in NEW:
            continue
        rec = records[row["entity"]][row["id"]]
        for dirt in row["dirt"]:
            kind, _, arg = dirt.partition(":")
            if kind == "orphan":
                assert store.by_id(entity_of[rec["targetable_type"]],
                                   rec["targetable_id"]) is None
            elif kind == "duplicate_of":
                kept = records["leads"][int(arg)]
                assert rec["email"] == kept["email"] and emails[rec["email"]] == 2
                assert ts(kept["updated_at"]) > ts(rec["updated_at"])
                assert ("leads", int(arg)) not in dirty
            elif kind == "deleted":
                assert rec["is_deleted"] is True
            elif kind == "unmapped":
                names = {s["id"]: s["name"] for s in c.LEAD_SOURCE_ITEMS}
                assert names[rec["lead_source_id"]] in c.LEAD_SOURCES_UNMAPPED
            elif kind == "missing":
                field = {"owner": "owner_id", "sales_activity_type": "sales_activity_type_id",
                         "company": "company"}.get(arg, arg)
                assert rec[field] is None, dirt
    clean_emails = [r["email"] for r in records["leads"].values()
                    if ("leads", r["id"]) not in dirty]
    assert len(clean_emails) == len(set(clean_emails))
