"""The live data of a running sandbox (``sb.state``).

Generated records are rebuilt on demand by ``data.Generator``; only records
changed through PUT, POST, DELETE or ``mutate`` live in ``overlay``. Each view
is an ``OrderedView``: its base members come from compact index arrays built
once at start (numpy, from the same per-record hashes the generator uses), the
membership of changed records is recomputed from their current fields.

An edit stamps ``updated_at`` with the current time in milliseconds, strictly
increasing across edits, so edited records sort after every generated one
(``sort=updated_at``) in the order they were edited.

Tasks, appointments and sales activities are listed without views, through
filters (``open``, ``past``, ...) kept as ``OrderedView`` s too (plus ``all``);
their indexes are built on the first request that needs them, so a
million-deal tenant starts as fast as before. A deleted one leaves every
filter and is gone (they have no Recycle Bin).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import activities
from . import catalog as c
from .config import SandboxConfig
from .data import (
    Generator,
    amount_number,
    amount_text,
    base_amount,
    fmt_date,
    fmt_ts_ms,
    owner_slot,
    parse_offset,
    stage_bucket,
)
from .validate import Invalid, blank, clean_fields
from .views import OrderedView

_ME_SLOT = 0
_OPEN_CUT, _WON_CUT = c.STAGE_CUTS[1][0], c.STAGE_CUTS[2][0]


@dataclass(frozen=True)
class ServedView:
    entity: str
    key: str
    name: str
    id: int
    listed: bool


class Store:
    """Counts, views, records and their changes; safe to use from several threads."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.gen = Generator(config)
        self._lock = threading.RLock()
        self._seq = 0
        self._last_ms = 0
        self.overlay: dict[str, dict[int, dict[str, Any]]] = {e: {} for e in c.GENERATED}
        self._next: dict[str, int] = {e: config.size(e) for e in c.GENERATED}
        self._posted_created: dict[str, dict[int, int]] = {e: {} for e in c.GENERATED}
        self._gone: dict[str, set[int]] = {e: set() for e in c.LISTS}
        self.views: dict[str, dict[str, ServedView]] = {}
        self._index: dict[str, dict[str, OrderedView]] = {}
        for entity in c.ENTITIES:
            self._build_views(entity)

    # -- views --------------------------------------------------------------------------------
    def _build_views(self, entity: str) -> None:
        plan = self.gen.plans[entity]
        hashes = self.gen.hashes(entity)
        deleted = plan.mask("deleted")
        alive = ~deleted
        masks = {"all": alive, "deleted": deleted,
                 "mine": alive & (owner_slot(hashes) == _ME_SLOT)}
        if entity == "deals":
            bucket = stage_bucket(hashes)
            no_stage = plan.mask("missing:deal_stage") | plan.mask("unmapped:deal_stage")
            won = (bucket >= _OPEN_CUT) & (bucket < _WON_CUT) & ~no_stage
            lost = (bucket >= _WON_CUT) & ~no_stage
            masks.update(open=alive & ~won & ~lost, won=alive & won, lost=alive & lost)
        del hashes
        self.views[entity] = {}
        self._index[entity] = {}
        for key, default, view_id in c.VIEW_DEFAULTS[entity]:
            name = self.config.view_names.get(f"{entity}:{key}", default)
            listed = not (entity == "deals" and key == "all" and not self.config.all_deals_view)
            self.views[entity][key] = ServedView(entity, key, name, view_id, listed)
            members = np.flatnonzero(masks[key])
            dtype = np.int32 if len(plan.kinds) < 2**31 else np.int64  # 4 bytes a member
            self._index[entity][key] = OrderedView(members.astype(dtype))

    def _filters(self, entity: str) -> dict[str, OrderedView]:
        """The filter indexes of a list module (``all`` and its filters), built once."""
        with self._lock:
            index = self._index.get(entity)
            if index is None:
                masks = activities.filter_masks(self.gen, entity)
                dtype = np.int32 if self.gen.sizes[entity] < 2**31 else np.int64
                index = {key: OrderedView(np.flatnonzero(mask).astype(dtype))
                         for key, mask in masks.items()}
                self._index[entity] = index
            return index

    def filter_count(self, entity: str, filter: str | None = None) -> int:  # noqa: A002
        """Records ``GET {entity}?filter=...`` lists now (``None``: every live one), e.g.
        ``filter_count("tasks", "open")``; for leads and the other view modules,
        ``view_count``."""
        key = filter or "all"
        if entity not in c.LISTS or key not in ("all", *c.LIST_FILTERS[entity]):
            raise KeyError(f"no filter {filter!r} for {entity}")
        views = self._filters(entity)
        with self._lock:
            return len(views[key])

    def listed_views(self, entity: str) -> list[ServedView]:
        return [v for v in self.views[entity].values() if v.listed]

    def view_by_id(self, entity: str, view_id: int) -> ServedView | None:
        for view in self.listed_views(entity):
            if view.id == view_id:
                return view
        return None

    def view_count(self, entity: str, view: str) -> int:
        """Members of a view, by key (``open``) or name (``Open Deals``)."""
        for v in self.views[entity].values():
            if view in (v.key, v.name):
                with self._lock:
                    return len(self._index[entity][v.key])
        raise KeyError(f"no view {view!r} for {entity}")

    def count(self, entity: str) -> int:
        """Every record of the entity, deleted ones included."""
        return self._next[entity]

    @staticmethod
    def is_member(entity: str, key: str, record: dict[str, Any]) -> bool:
        if entity in c.LISTS:
            return activities.is_member(entity, key, record)
        if key == "deleted":
            return bool(record.get("is_deleted"))
        if record.get("is_deleted"):
            return False
        if key == "all":
            return True
        if key == "mine":
            return record.get("owner_id") == c.ME
        stage = c.STAGE_BY_ID.get(record.get("deal_stage_id") or 0)
        forecast = stage["forecast_type"] if stage else "Open"
        return forecast.lower() == key

    # -- reading ------------------------------------------------------------------------------
    def index_of(self, entity: str, crm_id: int) -> int | None:
        index = crm_id - c.ID_BASE[entity]
        if entity in self._gone and index in self._gone[entity]:
            return None
        return index if 0 <= index < self._next[entity] else None

    def get(self, entity: str, index: int) -> dict[str, Any]:
        rec = self.overlay[entity].get(index)
        return rec if rec is not None else self.gen.record(entity, index)

    def by_id(self, entity: str, crm_id: int) -> dict[str, Any] | None:
        index = self.index_of(entity, crm_id)
        return None if index is None else self.get(entity, index)

    def page(self, entity: str, key: str, page: int, per_page: int, order: str = "id",
             desc: bool = False) -> tuple[list[dict[str, Any]], int]:
        """The records of one page of a view, and the view's total."""
        overlay = self.overlay[entity]
        views = self._filters(entity) if entity in c.LISTS else self._index[entity]
        with self._lock:
            view = views[key]
            if order == "created_at":
                view.sort_by_created(lambda base: self.gen.created_many(entity, base),
                                     lambda index: self._created(entity, index))
            indexes = view.page(page, per_page, order, desc)
            total = len(view)
            changed = {i: overlay[i] for i in indexes if i in overlay}
        gen = self.gen.record
        return [changed[i] if i in changed else gen(entity, i) for i in indexes], total

    def _created(self, entity: str, index: int) -> int:
        """Epoch of ``created_at`` (orders the ``created_at`` sort)."""
        if index < self.gen.sizes[entity]:
            return self.gen.times(entity, index, self.gen.hash(entity, index))[0]
        return self._posted_created[entity][index]

    def dirt(self, entity: str, crm_id: int) -> list[str]:
        """The manifest dirt of a generated record ([] for clean or created ones)."""
        index = crm_id - c.ID_BASE[entity]
        plan = self.gen.plans[entity]
        if not 0 <= index < plan.size:
            return []
        return plan.labels(index, self.gen.hash(entity, index))

    def manifest_rows(self) -> list[dict[str, Any]]:
        """The ground truth of the generated data (changes made later are not in it)."""
        return self.gen.manifest_rows()

    # -- writing ------------------------------------------------------------------------------
    def _stamp(self, record: dict[str, Any]) -> None:
        now = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = now
        record["updated_at"] = fmt_ts_ms(now, parse_offset(record.get("updated_at")))

    def _save(self, entity: str, index: int, record: dict[str, Any],
              gone: bool = False) -> dict[str, Any]:
        """Store a changed record (lock held) and move it in every view; ``gone``: a
        deleted task, appointment or activity, which leaves every filter."""
        self._stamp(record)
        if entity == "deals" and self._stage_moved(index, record):
            record["stage_updated_time"] = record["updated_at"]
        self._seq += 1
        self.overlay[entity][index] = record
        if gone:
            self._gone[entity].add(index)
        generated = index < self.gen.sizes[entity]
        created = self._created(entity, index)
        views = self._filters(entity) if entity in c.LISTS else self._index[entity]
        for key, view in views.items():
            if generated:
                view.drop_base(index, created)
            member = not gone and self.is_member(entity, key, record)
            view.place(index, self._seq, member, created)
        return record

    def _stage_moved(self, index: int, record: dict[str, Any]) -> bool:
        """A known deal whose stage changes (Freshsales then moves stage_updated_time)."""
        known = index in self.overlay["deals"] or index < self.gen.sizes["deals"]
        before = self.get("deals", index).get("deal_stage_id") if known else None
        return known and before != record.get("deal_stage_id")

    def _copy(self, entity: str, index: int) -> dict[str, Any]:
        rec = dict(self.get(entity, index))
        if "custom_field" in rec:
            rec["custom_field"] = dict(rec.get("custom_field") or {})
        return rec

    def update(self, entity: str, crm_id: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Apply validated-here changes to one record; None when the id is unknown."""
        changes = clean_fields(entity, fields)
        with self._lock:
            index = self.index_of(entity, crm_id)
            if index is None:
                return None
            rec = self._copy(entity, index)
            custom = changes.pop("custom_field", {})
            rec.update(changes)
            if custom:
                rec["custom_field"].update(custom)
            if entity == "deals" and ("amount" in changes or "currency_id" in changes):
                rec["base_currency_amount"] = base_amount(rec.get("amount"),
                                                          rec.get("currency_id"))
            return self._save(entity, index, rec)

    def create(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        changes = clean_fields(entity, fields)
        _require(entity, changes)
        with self._lock:
            index = self._next[entity]
            self._next[entity] += 1
            rec = blank(entity)
            custom = changes.pop("custom_field", {})
            rec.update(changes)
            if custom:
                rec["custom_field"].update(custom)
            rec["id"] = c.ID_BASE[entity] + index
            now_ms = max(int(time.time() * 1000), self._last_ms + 1)
            rec["created_at"] = rec["updated_at"] = fmt_ts_ms(now_ms, -360)
            self._posted_created[entity][index] = now_ms // 1000
            if entity == "deals":
                if rec.get("currency_id") is None:
                    rec["currency_id"] = c.USD
                rec["base_currency_amount"] = base_amount(rec.get("amount"),
                                                          rec["currency_id"])
            if entity in ("contacts", "leads"):
                parts = [rec.get("first_name"), rec.get("last_name")]
                rec["display_name"] = " ".join(p for p in parts if p) or rec.get("email")
            return self._save(entity, index, rec)

    def delete(self, entity: str, crm_id: int) -> dict[str, Any] | None:
        with self._lock:
            index = self.index_of(entity, crm_id)
            if index is None:
                return None
            rec = self._copy(entity, index)
            rec["is_deleted"] = True
            return self._save(entity, index, rec)

    def mutate(self, entity: str, count: int | None = None, ids: list[int] | None = None,
               delete: bool = False) -> list[int]:
        """Change records so their ``updated_at`` moves; return their CRM ids.

        ``ids``: exactly those records. ``count``: the ``count`` least recently
        updated live records that carry no dirt. Changes keep every record's
        dirt as the manifest says (see docs/sandbox.md); ``delete`` moves them
        to the Recycle Bin instead, or, for tasks, appointments and sales
        activities (no Recycle Bin), removes them from every list.
        """
        if entity not in c.GENERATED or (entity == "leads" and not self.config.leads_module):
            raise Invalid([f"Unknown entity '{entity}'"])
        if entity in c.LISTS:
            self._filters(entity)
        with self._lock:
            if ids is not None:
                indexes = self._indexes_of(entity, ids)
            else:
                indexes = self._oldest_clean(entity, count or 0)
            for index in indexes:
                rec = self._copy(entity, index)
                if delete and entity in c.LISTS:
                    self._save(entity, index, rec, gone=True)
                    continue
                if delete:
                    rec["is_deleted"] = True
                else:
                    _CHANGE[entity](rec)
                self._save(entity, index, rec)
            return [c.ID_BASE[entity] + i for i in indexes]

    def _indexes_of(self, entity: str, ids: list[int]) -> list[int]:
        indexes: list[int] = []
        unknown: list[int] = []
        for crm_id in ids:
            index = self.index_of(entity, crm_id) if isinstance(crm_id, int) else None
            (unknown if index is None else indexes).append(crm_id if index is None else index)
        if unknown:
            raise Invalid([f"Unknown {entity} id(s): {', '.join(map(str, unknown[:10]))}"])
        return indexes

    def _oldest_clean(self, entity: str, count: int) -> list[int]:
        view = self._index[entity]["all"]
        plan, rank = self.gen.plans[entity], 0
        out: list[int] = []
        while len(out) < count and rank < len(view):
            for index in view.ranks(rank, min(len(view), rank + 1000), "updated_at"):
                if plan.is_clean(index) and len(out) < count:
                    out.append(index)
            rank += 1000
        return out


def _require(entity: str, fields: dict[str, Any]) -> None:
    if entity in ("contacts", "leads"):
        if not any(fields.get(k) for k in ("first_name", "last_name", "email")):
            raise Invalid(["Contact needs a first name, a last name or an email"])
    elif not fields.get("name"):
        raise Invalid(["Name can't be blank"])


def _change_deal(rec: dict[str, Any]) -> None:
    """A new amount (same type) and, for a cleanly staged deal, the next stage."""
    amount = rec.get("amount")
    if amount is not None:
        cents = round(float(amount) * 110)
        rec["amount"] = amount_text(cents) if isinstance(amount, str) else amount_number(cents)
        rec["base_currency_amount"] = base_amount(rec["amount"], rec.get("currency_id"))
    custom = rec["custom_field"]
    label = custom.get("cf_deal_stage")
    if label in c.STAGES and rec.get("deal_stage_id") == c.STAGE_ID[label]:
        stage = c.STAGES[(c.STAGES.index(label) + 1) % len(c.STAGES)]
        custom["cf_deal_stage"] = stage
        rec["deal_stage_id"] = c.STAGE_ID[stage]
        if rec.get("probability") is not None:
            rec["probability"] = c.STAGE_PROBABILITY[stage]
            custom["cf_probability_of_closure"] = f"{c.STAGE_PROBABILITY[stage]}%"
        closed = c.FORECAST[stage] != "Open"
        rec["closed_date"] = fmt_date(int(time.time())) if closed else None


def _change_account(rec: dict[str, Any]) -> None:
    rec["number_of_employees"] = (rec.get("number_of_employees") or 0) + 1
    value = rec.get("annual_revenue")
    if value is not None:
        rec["annual_revenue"] = value + 1000
        rec["custom_field"]["cf_account_value"] = value + 1000


def _change_contact(rec: dict[str, Any]) -> None:
    rec["lead_score"] = ((rec.get("lead_score") or 0) + 1) % 100


def _change_task(rec: dict[str, Any]) -> None:
    """An open task gets done (with today's date); a done one a longer description."""
    if rec.get("status") == 0:
        rec["status"] = 1
        rec["completed_date"] = fmt_ts_ms(int(time.time() * 1000),
                                          parse_offset(rec.get("updated_at")))
    else:
        rec["description"] = f"{rec.get('description') or ''} Checked again.".strip()


def _change_appointment(rec: dict[str, Any]) -> None:
    rec["location"] = "Moved online" if rec.get("location") != "Moved online" else "Zoom"


def _change_activity(rec: dict[str, Any]) -> None:
    rec["notes"] = f"{rec.get('notes') or ''} Follow-up noted.".strip()


_CHANGE = {"deals": _change_deal, "sales_accounts": _change_account,
           "contacts": _change_contact, "leads": _change_contact, "tasks": _change_task,
           "appointments": _change_appointment, "sales_activities": _change_activity}
