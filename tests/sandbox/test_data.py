"""The generated tenant: consistency of fields, view membership and every dirt kind."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

import numpy as np
import pytest

from extract.sandbox import SandboxConfig, Store
from extract.sandbox import catalog as c
from extract.sandbox.dirt import KINDS
from extract.sandbox.rng import hash_many, record_hash

CORE = ("sales_accounts", "contacts", "deals")
AMOUNT = re.compile(r"^\d+\.(0|\d\d)$")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)$")
# Contract section 3: what the seeds map, after trim, lower-case and single spaces.
MAPPED = {
    "region": {"north america", "europe", "asia", "na", "n. america", "north-america", "eu",
               "apac", "asia pacific", "asia-pacific"},
    "lead_source": {"website", "referral", "email campaign", "web site", "web", "web-site",
                    "referrals", "referral program", "email", "e-mail campaign",
                    "email-campaign"},
    "deal_stage": {"prospecting", "negotiation", "closed-won", "closed-lost", "prospect",
                   "negotiating", "closed won", "won", "closed lost", "lost"},
}


def _field(rec: dict, path: tuple[str | None, str]) -> object:
    return rec[path[0]][path[1]] if path[0] else rec[path[1]]


def _norm(label: str) -> str:
    return " ".join(label.split()).lower()


@pytest.fixture(scope="module")
def store() -> Store:
    return Store(SandboxConfig())


def _all(store: Store, entity: str) -> list[dict]:
    return [store.gen.record(entity, i) for i in range(store.gen.sizes[entity])]


def _dirt(store: Store, entity: str) -> dict[int, list[str]]:
    return {row["id"]: row["dirt"] for row in store.manifest_rows() if row["entity"] == entity}


def test_numpy_and_scalar_hashes_agree() -> None:
    key = 0x1234_5678_9ABC_DEF0
    many = hash_many(key, 5000)
    assert [int(x) for x in many[[0, 1, 2, 4999]]] == [record_hash(key, i)
                                                       for i in (0, 1, 2, 4999)]
    assert len(np.unique(many)) == 5000


def test_view_indexes_match_record_fields(store: Store) -> None:
    for entity in c.ENTITIES:
        records = _all(store, entity)
        for key in store.views[entity]:
            want = sum(store.is_member(entity, key, r) for r in records)
            assert store.view_count(entity, key) == want, (entity, key)
            base = store._index[entity][key].base
            assert all(store.is_member(entity, key, records[int(i)]) for i in base)


def test_deal_views_partition_the_live_deals(store: Store) -> None:
    parts = [store.view_count("deals", k) for k in ("open", "won", "lost")]
    assert sum(parts) == store.view_count("deals", "all")
    assert min(parts) > 100
    assert store.view_count("deals", "all") + store.view_count("deals", "deleted") == 1500


def test_every_dirt_kind_occurs_at_the_default_sizes(store: Store) -> None:
    seen = Counter((row["entity"], d.split(":")[0] if d.startswith("duplicate_of") else d)
                   for row in store.manifest_rows() for d in row["dirt"])
    for entity, kinds in KINDS.items():
        for kind in kinds:
            assert seen[(entity, kind)] >= 1, (entity, kind)
    dirty = Counter(row["entity"] for row in store.manifest_rows())
    assert dirty == {"sales_accounts": 10, "contacts": 50, "deals": 75, "leads": 25,
                     "tasks": 112, "appointments": 37, "sales_activities": 225}


def test_at_most_one_rejecting_dirt_per_record(store: Store) -> None:
    rejecting = ("deleted", "unmapped:", "duplicate_of:", "orphan", "missing:account_name",
                 "missing:industry", "missing:account_value", "missing:region",
                 "missing:first_name", "missing:last_name", "missing:email",
                 "missing:deal_name", "missing:account_id", "missing:deal_stage",
                 "missing:probability_of_closure")
    for row in store.manifest_rows():
        assert sum(d.startswith(rejecting) for d in row["dirt"]) <= 1, row


def test_clean_records_have_consistent_labels_and_ids(store: Store) -> None:
    territories = {t["id"]: t["name"] for t in c.TERRITORIES}
    industries = {t["id"]: t["name"] for t in c.INDUSTRY_TYPES}
    sources = {t["id"]: t["name"] for t in c.LEAD_SOURCE_ITEMS}
    stages = {t["id"]: t["name"] for t in c.DEAL_STAGES}
    accounts = _all(store, "sales_accounts")
    dirty = {e: _dirt(store, e) for e in c.ENTITIES}
    for a in accounts:
        if a["id"] not in dirty["sales_accounts"]:
            cf = a["custom_field"]
            assert cf["cf_region"] == territories[a["territory_id"]] in c.REGIONS
            assert cf["cf_industry"] == industries[a["industry_type_id"]]
            assert cf["cf_account_value"] == a["annual_revenue"] > 0
    for p in _all(store, "contacts"):
        if p["id"] not in dirty["contacts"]:
            assert p["custom_field"]["cf_lead_source"] == sources[p["lead_source_id"]]
            assert p["custom_field"]["cf_last_contacted_date"] == p["last_contacted"][:10]
            assert p["email"] == p["emails"][0]["value"] and "@" in p["email"]
            assert p["sales_accounts"][0]["id"] == p["sales_account_id"]
    by_id = {a["id"]: a for a in accounts}
    for d in _all(store, "deals"):
        if d["id"] not in dirty["deals"]:
            cf = d["custom_field"]
            assert cf["cf_deal_stage"] == stages[d["deal_stage_id"]] in c.STAGES
            assert cf["cf_probability_of_closure"] == f"{d['probability']}%"
            assert AMOUNT.match(d["amount"]), d["amount"]
            account = by_id[d["sales_account_id"]]
            assert cf["cf_account_id"] == account["custom_field"]["cf_account_id"]


def test_each_dirt_kind_shows_in_the_record(store: Store) -> None:
    records = {e: {r["id"]: r for r in _all(store, e)} for e in CORE}
    account_keys = {a["custom_field"]["cf_account_id"]
                    for a in records["sales_accounts"].values()}
    for row in store.manifest_rows():
        if row["entity"] not in CORE:
            continue  # test_activities.py checks the dirt of the other modules
        rec = records[row["entity"]][row["id"]]
        cf = rec["custom_field"]
        for dirt in row["dirt"]:
            kind, _, arg = dirt.partition(":")
            if kind == "duplicate_of":
                kept = records[row["entity"]][int(arg)]
                assert datetime.fromisoformat(kept["updated_at"]) > datetime.fromisoformat(
                    rec["updated_at"])
                assert int(arg) not in _dirt(store, row["entity"])
                key = {"deals": ("custom_field", "cf_deal_id"),
                       "sales_accounts": ("custom_field", "cf_account_id"),
                       "contacts": (None, "external_id")}[row["entity"]]
                assert _field(rec, key) == _field(kept, key)
                if row["entity"] != "contacts":
                    assert rec["name"] == kept["name"]
            elif kind == "deleted":
                assert rec["is_deleted"] is True
            elif kind == "orphan":
                assert cf["cf_account_id"] not in account_keys
                assert rec["sales_account_id"] not in records["sales_accounts"]
            elif kind == "numeric_amount":
                assert isinstance(rec["amount"], int | float)
            elif kind in ("unmapped", "noise"):
                label = cf[{"region": "cf_region", "lead_source": "cf_lead_source",
                            "deal_stage": "cf_deal_stage"}[arg]]
                assert (_norm(label) in MAPPED[arg]) == (kind == "noise"), dirt
                if kind == "unmapped":
                    assert label in c.REGIONS_UNMAPPED + c.LEAD_SOURCES_UNMAPPED \
                        + c.STAGES_UNMAPPED
            elif kind == "missing":
                field = {"account_name": "name", "deal_name": "name", "deal_size": "amount",
                         "account_id": "sales_account_id", "deal_stage": "deal_stage_id",
                         "region": "territory_id", "industry": "industry_type_id",
                         "account_value": "annual_revenue", "first_name": "first_name",
                         "last_name": "last_name", "email": "email", "job_title": "job_title",
                         "last_contact_date": "last_contacted",
                         "probability_of_closure": "probability"}[arg]
                assert rec[field] is None, dirt


def test_timestamps_offsets_and_spread(store: Store) -> None:
    deals = _all(store, "deals")
    updated = [datetime.fromisoformat(d["updated_at"]) for d in deals]
    created = [datetime.fromisoformat(d["created_at"]) for d in deals]
    assert all(a < b for a, b in zip(updated, updated[1:], strict=False))
    assert all(cr <= up for cr, up in zip(created, updated, strict=True))
    assert (max(created) - min(created)).days > 3 * 365
    assert all(TS.match(d["updated_at"]) for d in deals)
    offsets = Counter(d["updated_at"][19:] for d in deals)
    assert len(offsets) >= 6 and "Z" in offsets and "+05:30" in offsets


def test_names_look_real_and_include_non_ascii(store: Store) -> None:
    people = _all(store, "contacts")
    assert sum(not (p["first_name"] or "a").isascii() for p in people) > 50
    assert len({p["external_id"] for p in people}) > 990
    assert {a["custom_field"]["cf_industry"] for a in _all(store, "sales_accounts")} \
        >= {"Technology", "Retail", "Finance", "Healthcare", "Manufacturing"}


def test_same_seed_same_data_other_seed_other_data() -> None:
    one, two, other = (Store(SandboxConfig(seed=s)) for s in (7, 7, 8))
    for entity in c.ENTITIES:
        assert [one.gen.record(entity, i) for i in range(50)] == \
            [two.gen.record(entity, i) for i in range(50)]
        assert [one.gen.record(entity, i) for i in range(50)] != \
            [other.gen.record(entity, i) for i in range(50)]
    assert one.manifest_rows() == two.manifest_rows() != other.manifest_rows()


@pytest.mark.parametrize("seed", [1, 2, 3, 99])
def test_every_dirt_kind_occurs_for_other_seeds(seed: int) -> None:
    rows = Store(SandboxConfig(seed=seed)).manifest_rows()
    kinds = {(r["entity"], d.split(":")[0] if d.startswith("dup") else d)
             for r in rows for d in r["dirt"]}
    assert kinds >= {(e, k) for e, ks in KINDS.items() for k in ks}


def test_dirt_rate_zero_means_no_dirt() -> None:
    assert Store(SandboxConfig(dirt_rate=0)).manifest_rows() == []


def test_vectorised_created_at_matches_the_records(store: Store) -> None:
    indexes = np.arange(1500)
    many = store.gen.created_many("deals", indexes)
    for i in (0, 1, 700, 1499):
        stamp = datetime.fromisoformat(store.gen.record("deals", i)["created_at"])
        assert int(many[i]) == int(stamp.timestamp())
