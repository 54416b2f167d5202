"""The generated tenant: every record is a pure function of (seed, entity, index).

Nothing is stored per record: ``Generator.record(entity, i)`` rebuilds record
``i`` on demand from its hash, so a million deals cost only the compact arrays
of ``dirt.DirtPlan`` and the view indexes. Aspects that other records need
(a company's name, a person's name, a deal's stage, an owner) come from their
own sub-streams of the record hash, so they can be computed without building
the whole record, and in bulk with numpy where views need them.

Time: within an entity ``updated_at`` strictly increases with the index and lies
in the 400 days before ``END``; ``created_at`` is spread over the four years
before ``updated_at``. Offsets vary per record (-06:00, +05:30, +09:00, Z, ...).
"""

from __future__ import annotations

import time
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from . import catalog as c
from .config import SandboxConfig
from .dirt import CURRENCY_KIND, KINDS, DirtPlan
from .rng import draws, entity_key, hash_at, hash_many, mix, record_hash

END = 1_759_276_800  # 2025-10-01T00:00:00Z: every generated timestamp lies before it
UPDATED_SPAN = 400 * 86_400
CREATED_START = END - 4 * 365 * 86_400
DAY = 86_400

_NAME_SALT = 0x4E414D45
_PERSON_SALT = 0x50455253
_DRAW1 = 0x44524131
_DRAW2 = 0x44524132
_DRAW3 = 0x44524133
_CURRENCY_SALT = 0x43555252
_PPM = 1_000_000


def stage_bucket(h: Any) -> Any:
    """Per-mille bucket choosing a deal's canonical stage (int or uint64 array)."""
    return (h >> 8) % 1000


def owner_slot(h: Any) -> Any:
    return (h >> 24) % len(c.USERS)


def stage_of_bucket(bucket: int) -> str:
    for cut, name in c.STAGE_CUTS:
        if bucket < cut:
            return name
    return c.STAGES[-1]


_DAYS: dict[int, str] = {}
_CLOCK: dict[int, str] = {}
_OFFSET_TEXT: dict[int, str] = {}


def _day(day: int) -> str:
    text = _DAYS.get(day)
    if text is None:
        t = time.gmtime(day * DAY)
        text = _DAYS[day] = f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
    return text


def _offset(offset_min: int) -> str:
    text = _OFFSET_TEXT.get(offset_min)
    if text is None:
        text = _OFFSET_TEXT[offset_min] = fmt_offset(offset_min)
    return text


def fmt_ts(epoch: int, offset_min: int) -> str:
    """ISO-8601 with the given UTC offset, seconds resolution."""
    day, rest = divmod(epoch + offset_min * 60, DAY)
    clock = _CLOCK.get(rest)
    if clock is None:
        hh, mm = divmod(rest // 60, 60)
        clock = _CLOCK[rest] = f"T{hh:02d}:{mm:02d}:{rest % 60:02d}"
    return _day(day) + clock + _offset(offset_min)


def fmt_ts_ms(epoch_ms: int, offset_min: int) -> str:
    """ISO-8601 with milliseconds (used for ``updated_at`` of edited records)."""
    secs, ms = divmod(epoch_ms, 1000)
    day, rest = divmod(secs + offset_min * 60, DAY)
    hh, rest = divmod(rest, 3600)
    mm, ss = divmod(rest, 60)
    return f"{_day(day)}T{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}{_offset(offset_min)}"


def fmt_offset(offset_min: int) -> str:
    if offset_min == 0:
        return "Z"
    sign = "+" if offset_min > 0 else "-"
    return f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"


def parse_offset(stamp: str | None) -> int:
    """UTC offset in minutes of an ISO timestamp written by ``fmt_ts``."""
    if not stamp or stamp.endswith("Z") or len(stamp) < 6 or stamp[-3] != ":":
        return 0
    sign = 1 if stamp[-6] == "+" else -1
    return sign * (int(stamp[-5:-3]) * 60 + int(stamp[-2:]))


def fmt_date(epoch: int) -> str:
    return _day(epoch // DAY)


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def amount_text(cents: int) -> str:
    """A Freshsales decimal string: "7000.0" for whole amounts, else "12450.50"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.0" if frac == 0 else f"{sign}{whole}.{frac:02d}"


def amount_number(cents: int) -> int | float:
    whole, frac = divmod(cents, 100)
    return whole if frac == 0 else cents / 100


def base_cents(cents: int, currency_id: int | None) -> int | None:
    """Cents of the base currency: ``round(amount / exchange_rate, 2)``, halves away from
    zero (as SQL's ``round`` does); None when the currency has no known rate."""
    rate = c.RATE.get(currency_id or 0)
    if rate is None:
        return None
    return int((Decimal(cents) / Decimal(rate)).quantize(Decimal(1), ROUND_HALF_UP))


def base_amount(amount: Any, currency_id: int | None) -> str | None:
    """``base_currency_amount`` of an amount (decimal string or number) in a currency."""
    if amount is None:
        return None
    cents = int((Decimal(str(amount)) * 100).quantize(Decimal(1), ROUND_HALF_UP))
    base = base_cents(cents, currency_id)
    return None if base is None else amount_text(base)


class _Plans(dict[str, DirtPlan]):
    """Dirt plans by entity, each built on first use (the activity modules of a
    million-deal tenant hold millions of records that a run may never read)."""

    def __init__(self, gen: Generator) -> None:
        super().__init__()
        self._gen = gen

    def __missing__(self, entity: str) -> DirtPlan:
        gen = self._gen
        names = list(KINDS[entity])
        if entity == "deals" and gen.config.foreign_currency_share > 0:
            names.append(CURRENCY_KIND)
        plan = DirtPlan(entity, gen.sizes[entity], gen.config.dirt_rate, gen.keys[entity],
                        names)
        self[entity] = plan
        return plan


class Generator:
    """Builds records of one seeded tenant on demand."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        from . import activities  # it builds on this module's helpers

        self.sizes = {e: config.size(e) for e in c.GENERATED}
        self.keys = {e: entity_key(config.seed, e) for e in c.GENERATED}
        self.plans = _Plans(self)
        self._companies: dict[int, str] = {}
        self._foreign_ppm = round(config.foreign_currency_share * _PPM)
        self._builders = {"sales_accounts": self._account, "contacts": self._contact,
                          "deals": self._deal,
                          "leads": lambda i: activities.lead(self, i),
                          "tasks": lambda i: activities.task(self, i),
                          "appointments": lambda i: activities.appointment(self, i),
                          "sales_activities": lambda i: activities.sales_activity(self, i)}

    # -- bulk attributes for the view indexes ------------------------------------------
    def hashes(self, entity: str) -> np.ndarray:
        return hash_many(self.keys[entity], self.sizes[entity])

    # -- small pieces other records need ---------------------------------------------------
    def hash(self, entity: str, index: int) -> int:
        return record_hash(self.keys[entity], index)

    def times(self, entity: str, index: int, h: int) -> tuple[int, int]:
        """(created_at, updated_at) epochs of generated record ``index``."""
        step = max(1, UPDATED_SPAN // max(1, self.sizes[entity]))
        updated = END - UPDATED_SPAN + index * step + (h >> 3) % step
        created = CREATED_START + (h >> 13) % max(1, updated - CREATED_START)
        return created, updated

    def created_many(self, entity: str, indexes: np.ndarray) -> np.ndarray:
        """``times(...)[0]`` (created epoch) of many generated records, vectorised."""
        h = hash_at(self.keys[entity], indexes)
        updated = self._updated_many(entity, indexes, h)
        span = np.maximum(updated - np.uint64(CREATED_START), np.uint64(1))
        return (np.uint64(CREATED_START) + (h >> np.uint64(13)) % span).astype(np.int64)

    def updated_many(self, entity: str, indexes: np.ndarray) -> np.ndarray:
        """``times(...)[1]`` (updated epoch) of many generated records, vectorised."""
        h = hash_at(self.keys[entity], indexes)
        return self._updated_many(entity, indexes, h).astype(np.int64)

    def _updated_many(self, entity: str, indexes: np.ndarray, h: np.ndarray) -> np.ndarray:
        step = np.uint64(max(1, UPDATED_SPAN // max(1, self.sizes[entity])))
        first = np.uint64(END - UPDATED_SPAN)
        return first + indexes.astype(np.uint64) * step + (h >> np.uint64(3)) % step

    def clean_target(self, entity: str, index: int) -> int:
        """The first record at or after ``index`` (wrapping) that carries no dirt: what a
        task, appointment or activity points at, so that only ``orphan`` ones miss."""
        plan, size = self.plans[entity], self.sizes[entity]
        for step in range(size):
            j = (index + step) % size
            if plan.is_clean(j):
                return j
        return index

    def currency(self, h: int, kinds: list[str]) -> int:
        """``currency_id`` of the deal of hash ``h``: USD unless drawn foreign."""
        if CURRENCY_KIND in kinds:
            return c.UNKNOWN_CURRENCY_ID
        x = mix(h ^ _CURRENCY_SALT)
        if x % _PPM < self._foreign_ppm:
            return c.FOREIGN_CURRENCIES[(x >> 20) % len(c.FOREIGN_CURRENCIES)]
        return c.USD

    def company(self, index: int) -> str:
        name = self._companies.get(index)
        if name is None:
            heads, tails = draws(mix(self.hash("sales_accounts", index) ^ _NAME_SALT),
                                 (len(c.COMPANY_HEADS), len(c.COMPANY_TAILS)))
            name = f"{c.COMPANY_HEADS[heads]} {c.COMPANY_TAILS[tails]}"
            if len(self._companies) > 100_000:
                self._companies.clear()
            self._companies[index] = name
        return name

    def account_name(self, index: int) -> str | None:
        """The name account ``index`` carries (a duplicate carries its target's)."""
        plan = self.plans["sales_accounts"]
        kind = plan.primary(index)
        if kind == "missing:account_name":
            return None
        if kind == "duplicate_of":
            return self.company(plan.duplicate_target(index) or index)
        return self.company(index)

    def account_key(self, index: int) -> int:
        """The business key account ``index`` carries (``cf_account_id``)."""
        plan = self.plans["sales_accounts"]
        if plan.primary(index) == "duplicate_of":
            index = plan.duplicate_target(index) or index
        return c.ACCOUNT_KEY_BASE + index

    def domain(self, account: int) -> str:
        slug = ascii_slug(self.company(account).split(" ")[0]) or f"company{account}"
        return f"{slug}.example"

    def person(self, index: int) -> tuple[tuple[str, str], tuple[str, str]]:
        first, last = draws(mix(self.hash("contacts", index) ^ _PERSON_SALT),
                            (len(c.FIRST_NAMES), len(c.LAST_NAMES)))
        return c.FIRST_NAMES[first], c.LAST_NAMES[last]

    def contact_account(self, h: int) -> int | None:
        n = self.sizes["sales_accounts"]
        return None if n == 0 else (h >> 32) % n

    def email(self, index: int) -> str:
        (_, first), (_, last) = self.person(index)
        h = self.hash("contacts", index)
        account = self.contact_account(h)
        domain = self.domain(account) if account is not None else "mail.example"
        return f"{first}.{last}{index % 97}@{domain}"

    def deal_title(self, index: int) -> str:
        h = self.hash("deals", index)
        product = c.DEAL_PRODUCTS[mix(h ^ _NAME_SALT) % len(c.DEAL_PRODUCTS)]
        account = self.contact_account(h)
        head = self.company(account).split(" ")[0] if account is not None else "Direct"
        return f"{head} - {product}"

    # -- records -----------------------------------------------------------------------------
    def record(self, entity: str, index: int) -> dict[str, Any]:
        """Generated record ``index`` of ``entity`` (a fresh dict each call)."""
        return self._builders[entity](index)

    def kinds(self, entity: str, index: int) -> list[str]:
        return self.plans[entity].kinds_of(index, self.hash(entity, index))

    def manifest_rows(self) -> list[dict[str, Any]]:
        """One row per dirty generated record, in generation order."""
        rows = []
        for entity in c.GENERATED:
            plan = self.plans[entity]
            for i in plan.dirty_indexes():
                i = int(i)
                rows.append({"entity": entity, "id": c.ID_BASE[entity] + i,
                             "dirt": plan.labels(i, self.hash(entity, i))})
        return rows


    def _account(self, i: int) -> dict[str, Any]:
        h = self.hash("sales_accounts", i)
        kinds = self.kinds("sales_accounts", i)
        created, updated = self.times("sales_accounts", i, h)
        offset = c.OFFSETS[(h >> 40) % len(c.OFFSETS)]
        (region_n, unmapped_n, noise_n, place_n, industry_n, value_n, street, btype,
         mode) = draws(mix(h ^ _DRAW1), (3, 3, 6, 4, 10, 4981, 400, 4, 4))
        phone1, phone2, employees = draws(mix(h ^ _DRAW2), (900, 9000, 19996))
        region = c.REGIONS[region_n]
        region_label: str | None = region
        territory: int | None = c.TERRITORY_ID[region]
        if "unmapped:region" in kinds:
            region = region_label = c.REGIONS_UNMAPPED[unmapped_n]
            territory = c.TERRITORY_ID[region]
        elif "noise:region" in kinds:
            variants = c.REGION_NOISE[region]
            region_label = variants[noise_n % len(variants)]
        elif "missing:region" in kinds:
            region_label = territory = None
        places = c.PLACES[region]
        city, state, country, zipcode = places[place_n % len(places)]
        industry: str | None = c.INDUSTRIES[industry_n]
        industry_id: int | None = c.INDUSTRY_ID[c.INDUSTRIES[industry_n]]
        if "missing:industry" in kinds:
            industry = industry_id = None
        value: int | None = (20 + value_n) * 1000
        if "missing:account_value" in kinds:
            value = None
        contacted = created + mix(h ^ _DRAW3) % max(1, updated - created)
        head = ascii_slug(self.company(i).split(" ")[0]) or f"company{i}"
        rec_id = c.ID_BASE["sales_accounts"] + i
        return {
            "id": rec_id,
            "name": self.account_name(i),
            "address": f"{street + 1} Market Street",
            "city": city,
            "state": state or None,
            "zipcode": zipcode,
            "country": country,
            "phone": f"+1 555 {phone1 + 100} {phone2 + 1000}",
            "website": f"https://www.{head}.example",
            "number_of_employees": employees + 5,
            "annual_revenue": value,
            "owner_id": c.USERS[owner_slot(h)]["id"],
            "industry_type_id": industry_id,
            "business_type_id": c.BUSINESS_TYPES[btype]["id"],
            "territory_id": territory,
            "parent_sales_account_id": None,
            "last_contacted": fmt_ts(contacted, offset),
            "last_contacted_mode": ("Email", "Phone", "Meeting", None)[mode],
            "tags": [],
            "is_deleted": "deleted" in kinds,
            "custom_field": {
                "cf_account_id": str(self.account_key(i)),
                "cf_industry": industry,
                "cf_account_value": value,
                "cf_region": region_label,
            },
            "links": {"contacts": f"/sales_accounts/{rec_id}/contacts",
                      "deals": f"/sales_accounts/{rec_id}/deals"},
            "created_at": fmt_ts(created, offset),
            "updated_at": fmt_ts(updated, offset),
            "last_assigned_at": fmt_ts(created, offset),
        }

    def _contact(self, i: int) -> dict[str, Any]:
        h = self.hash("contacts", i)
        kinds = self.kinds("contacts", i)
        created, updated = self.times("contacts", i, h)
        offset = c.OFFSETS[(h >> 40) % len(c.OFFSETS)]
        (lead_n, unmapped_n, noise_n, job_n, work, mobile_flag, mobile, tz, status,
         lifecycle, territory, score, mode) = draws(
            mix(h ^ _DRAW1), (3, 3, 5, len(c.JOB_TITLES), 9000, 3, 9000, 5, 4, 3, 3, 100, 2))
        source = i
        if "duplicate_of" in kinds:
            source = self.plans["contacts"].duplicate_target(i) or i
        (first, _), (last, _) = self.person(source)
        first_name: str | None = None if "missing:first_name" in kinds else first
        last_name: str | None = None if "missing:last_name" in kinds else last
        email: str | None = None if "missing:email" in kinds else self.email(source)
        lead = lead_label = c.LEAD_SOURCES[lead_n]
        if "unmapped:lead_source" in kinds:
            lead = lead_label = c.LEAD_SOURCES_UNMAPPED[unmapped_n]
        elif "noise:lead_source" in kinds:
            variants = c.LEAD_SOURCE_NOISE[lead]
            lead_label = variants[noise_n % len(variants)]
        contacted = created + mix(h ^ _DRAW2) % max(1, updated - created)
        last_contacted: str | None = fmt_ts(contacted, offset)
        contacted_date: str | None = fmt_date(contacted + offset * 60)
        if "missing:last_contact_date" in kinds:
            last_contacted = contacted_date = None
        job: str | None = None if "missing:job_title" in kinds else c.JOB_TITLES[job_n]
        account = self.contact_account(h)
        account_id = None if account is None else c.ID_BASE["sales_accounts"] + account
        rec_id = c.ID_BASE["contacts"] + i
        display = " ".join(p for p in (first_name, last_name) if p) or email
        return {
            "id": rec_id,
            "first_name": first_name,
            "last_name": last_name,
            "display_name": display,
            "email": email,
            "emails": [] if email is None else [
                {"id": 19_000_000_001 + i, "value": email, "is_primary": True,
                 "label": None, "_destroy": False}],
            "job_title": job,
            "work_number": f"+44 20 7946 {work + 1000}",
            "mobile_number": None if mobile_flag == 0 else f"+1 202 555 {mobile + 1000}",
            "address": None,
            "city": None,
            "state": None,
            "zipcode": None,
            "country": None,
            "time_zone": ("Central America", "Kolkata", "Tokyo", "Berlin", "Eastern Time")[tz],
            "owner_id": c.USERS[owner_slot(h)]["id"],
            "lead_source_id": c.LEAD_SOURCE_ID[lead],
            "campaign_id": None,
            "contact_status_id": c.CONTACT_STATUSES[status]["id"],
            "lifecycle_stage_id": c.LIFECYCLE_STAGES[lifecycle]["id"],
            "territory_id": c.TERRITORIES[territory]["id"],
            "sales_account_id": account_id,
            "sales_accounts": [] if account is None else [
                {"id": account_id, "name": self.account_name(account), "avatar": None,
                 "partial": True, "website": None, "is_primary": True}],
            "external_id": c.contact_key(source),
            "lead_score": score,
            "last_contacted": last_contacted,
            "last_contacted_mode": None if last_contacted is None else ("Email", "Phone")[mode],
            "tags": [],
            "is_deleted": "deleted" in kinds,
            "custom_field": {"cf_lead_source": lead_label,
                             "cf_last_contacted_date": contacted_date},
            "created_at": fmt_ts(created, offset),
            "updated_at": fmt_ts(updated, offset),
        }

    def _deal(self, i: int) -> dict[str, Any]:
        h = self.hash("deals", i)
        kinds = self.kinds("deals", i)
        created, updated = self.times("deals", i, h)
        offset = c.OFFSETS[(h >> 40) % len(c.OFFSETS)]
        (units, whole, cents_n, expect_n, closed_n, jitter, reason, dtype, lead, territory,
         unmapped_n, noise_n) = draws(mix(h ^ _DRAW1),
                                      (249_501, 2, 100, 166, 191, 21, 5, 3, 3, 3, 3, 5))
        stage = stage_of_bucket(stage_bucket(h))
        stage_label: str | None = stage
        if "unmapped:deal_stage" in kinds:
            stage = stage_label = c.STAGES_UNMAPPED[unmapped_n]
        elif "noise:deal_stage" in kinds:
            variants = c.STAGE_NOISE[stage]
            stage_label = variants[noise_n % len(variants)]
        stage_id: int | None = c.STAGE_ID[stage]
        if "missing:deal_stage" in kinds:
            stage_label = stage_id = None
        forecast = c.FORECAST.get(stage, "Open") if stage_id else "Open"
        base_prob = c.STAGE_PROBABILITY[stage]
        probability: int | None = base_prob if forecast != "Open" else max(
            5, min(95, base_prob + jitter - 10))
        prob_text: str | None = f"{probability}%"
        if "missing:probability_of_closure" in kinds:
            probability = prob_text = None
        cents = (units + 500) * 100 + (0 if whole else cents_n)
        amount: str | int | float | None = amount_text(cents)
        if "numeric_amount" in kinds:
            amount = amount_number(cents)
        elif "missing:deal_size" in kinds:
            amount = None
        account = self.contact_account(h)
        if account is None or "orphan" in kinds:
            account_id: int | None = c.ORPHAN_ACCOUNT_ID_BASE + i
            account_key: str | None = str(c.ORPHAN_ACCOUNT_KEY_BASE + i)
        else:
            account_id = c.ID_BASE["sales_accounts"] + account
            account_key = str(self.account_key(account))
        if "missing:account_id" in kinds:
            account_id = account_key = None
        key_index = i
        if "duplicate_of" in kinds:
            key_index = self.plans["deals"].duplicate_target(i) or i
        name: str | None = None if "missing:deal_name" in kinds else self.deal_title(key_index)
        closed = min(updated, created + (closed_n + 10) * DAY)
        stage_time = created + mix(h ^ _DRAW2) % max(1, updated - created)
        rec_id = c.ID_BASE["deals"] + i
        amount_str = None if amount is None else amount_text(cents)
        currency = self.currency(h, kinds)
        base = None if amount is None else base_cents(cents, currency)
        return {
            "id": rec_id,
            "name": name,
            "amount": amount,
            "base_currency_amount": None if base is None else amount_text(base),
            "currency_id": currency,
            "expected_close": fmt_date(created + (expect_n + 15) * DAY),
            "closed_date": fmt_date(closed) if forecast != "Open" else None,
            "stage_updated_time": fmt_ts(stage_time, offset),
            "probability": probability,
            "deal_pipeline_id": c.PIPELINE_ID,
            "deal_stage_id": stage_id,
            "deal_reason_id": c.DEAL_REASONS[reason]["id"] if forecast == "Lost" else None,
            "deal_type_id": c.DEAL_TYPES[dtype]["id"],
            "deal_payment_status_id": None,
            "deal_product_id": None,
            "campaign_id": None,
            "lead_source_id": c.LEAD_SOURCE_ITEMS[lead]["id"],
            "owner_id": c.USERS[owner_slot(h)]["id"],
            "sales_account_id": account_id,
            "territory_id": c.TERRITORIES[territory]["id"],
            "forecast_category": _FORECAST_CATEGORY[forecast],
            "expected_deal_value": None if amount_str is None or probability is None
            else amount_text(cents * probability // 100),
            "has_products": False,
            "tags": [],
            "is_deleted": "deleted" in kinds,
            "custom_field": {
                "cf_deal_id": str(c.DEAL_KEY_BASE + key_index),
                "cf_account_id": account_key,
                "cf_probability_of_closure": prob_text,
                "cf_deal_stage": stage_label,
            },
            "links": {"conversations": f"/deals/{rec_id}/conversations/all",
                      "document_associations": f"/deals/{rec_id}/document_associations"},
            "created_at": fmt_ts(created, offset),
            "updated_at": fmt_ts(updated, offset),
            "last_assigned_at": fmt_ts(created, offset),
        }


_FORECAST_CATEGORY = {"Open": "Pipeline", "Won": "Closed", "Lost": "Omitted"}
