"""Which generated records carry dirt, and which kinds (the manifest vocabulary).

Placement: with a rate ``r``, record ``i`` is dirty when ``floor((i + o + 1) r)``
exceeds ``floor((i + o) r)`` (``o`` a per-seed offset), i.e. dirty records are
evenly spaced, one every ``1/r``. The n-th dirty record of an entity gets the
kind ``(n + k) mod K`` of that entity's list (``k`` per seed): the kinds take
turns, so every kind occurs as soon as an entity has ``K`` dirty records (the
defaults 200/1000/1500 at 5% give 10/50/75 dirty records for 8/9/11 kinds).
Integer arithmetic keeps the numpy path (view indexes) and the per-record path
identical.

Each dirty record has one *primary* kind from the list below; a third of them
also get one extra kind that rejects nothing (noise, a nullable value left
empty, a numeric amount) when it fits the primary one. Clean records carry none.

Kinds (docs/contract.md section 5 holds where each record must end):

- ``duplicate_of:<id>``: the record copies the business key of the next record
  (index + 1, which is clean and updated later): deals copy ``cf_deal_id`` and
  ``name``; accounts ``cf_account_id`` and ``name``; contacts ``external_id``
  (and the person's names and email). ``<id>`` is the CRM id of the kept record.
- ``missing:<column>``: the value feeding that mart column is null under both
  presets (e.g. ``missing:region`` nulls ``cf_region`` and ``territory_id``).
- ``unmapped:<column>``: a label no seed maps (EMEA, Trade Show, On Hold); the
  standard id points at the selector entry of that name.
- ``noise:<column>``: the ``cf_`` label has extra spaces, another case or a mapped
  variant ("north america ", "web site", "Closed Won"); the id is canonical.
- ``orphan``: a deal whose ``sales_account_id`` and ``cf_account_id`` name an
  account that does not exist.
- ``deleted``: in the Recycle Bin with ``is_deleted: true``.
- ``numeric_amount``: ``amount`` is a JSON number instead of a decimal string.
- ``unknown_currency``: a deal whose ``currency_id`` is not in the currencies
  list (no usable exchange rate; ``base_currency_amount`` null). Only when the
  tenant has foreign-currency deals (``foreign_currency_share`` > 0): a
  single-currency tenant's deals and manifest stay as they were.
- ``orphan`` of a task, appointment or sales activity: ``targetable_id`` names
  a deal, contact or account that does not exist.

Leads are de-duplicated by email (``duplicate_of`` copies the next clean
lead's email and names). Tasks, appointments and sales activities are never
``deleted`` (they have no Recycle Bin).
"""

from __future__ import annotations

import numpy as np

from .catalog import ID_BASE
from .rng import Rng

_PPM = 1_000_000
_CHUNK = 1 << 20

KINDS: dict[str, list[str]] = {
    "sales_accounts": ["duplicate_of", "missing:account_name", "missing:industry",
                       "missing:account_value", "missing:region", "unmapped:region",
                       "noise:region", "deleted"],
    "contacts": ["duplicate_of", "missing:first_name", "missing:last_name", "missing:email",
                 "missing:job_title", "missing:last_contact_date", "unmapped:lead_source",
                 "noise:lead_source", "deleted"],
    "deals": ["duplicate_of", "missing:deal_name", "missing:account_id", "missing:deal_stage",
              "missing:probability_of_closure", "missing:deal_size", "unmapped:deal_stage",
              "noise:deal_stage", "orphan", "deleted", "numeric_amount"],
    "leads": ["duplicate_of", "missing:last_name", "missing:email", "missing:job_title",
              "unmapped:lead_source", "deleted"],
    "tasks": ["orphan", "missing:title", "missing:owner"],
    "appointments": ["orphan", "missing:title", "missing:owner"],
    "sales_activities": ["orphan", "missing:title", "missing:owner",
                         "missing:sales_activity_type"],
}
# The deals' extra primary kind of a tenant with foreign-currency deals.
CURRENCY_KIND = "unknown_currency"
# Extra kinds that reject nothing, and the primary kinds each one cannot join.
EXTRAS: dict[str, dict[str, set[str]]] = {
    "sales_accounts": {"noise:region": {"missing:region", "unmapped:region", "noise:region"}},
    "contacts": {
        "noise:lead_source": {"unmapped:lead_source", "noise:lead_source"},
        "missing:job_title": {"missing:job_title"},
        "missing:last_contact_date": {"missing:last_contact_date"},
    },
    "deals": {
        "noise:deal_stage": {"missing:deal_stage", "unmapped:deal_stage", "noise:deal_stage"},
        "numeric_amount": {"numeric_amount", "missing:deal_size"},
        "missing:deal_size": {"missing:deal_size", "numeric_amount", CURRENCY_KIND},
    },
    "leads": {"missing:job_title": {"missing:job_title"}, "missing:company": set()},
    "tasks": {"missing:description": set()},
    "appointments": {"missing:location": set()},
    "sales_activities": {"missing:notes": set()},
}
# What a duplicate at the very end (no later record to copy) becomes instead.
FALLBACK = {"sales_accounts": "noise:region", "contacts": "noise:lead_source",
            "deals": "noise:deal_stage", "leads": "missing:job_title"}
CLEAN = -1
_EXTRA_SALT = 0xE7E7A


class DirtPlan:
    """The dirt of every generated record of one entity (1 byte per record)."""

    def __init__(self, entity: str, size: int, rate: float, key: int,
                 names: list[str] | None = None) -> None:
        self.entity = entity
        self.size = size
        self.names = KINDS[entity] if names is None else names
        self.codes = {name: code for code, name in enumerate(self.names)}
        self.kinds = _place(size, rate, key, len(self.names))
        if "duplicate_of" in self.codes:
            self._fix_last_duplicate()
        # Per-record reads through a memoryview give Python ints, 50x faster than numpy.
        self._codes = memoryview(self.kinds.data)

    def _fix_last_duplicate(self) -> None:
        dup = self.codes["duplicate_of"]
        for i in np.flatnonzero(self.kinds == dup):
            if self.duplicate_target(int(i)) is None:
                self.kinds[i] = self.codes[FALLBACK[self.entity]]

    def primary(self, index: int) -> str | None:
        if index >= self.size:
            return None
        code = self._codes[index]
        return None if code == CLEAN else self.names[code]

    def is_clean(self, index: int) -> bool:
        return index >= self.size or self._codes[index] == CLEAN

    def duplicate_target(self, index: int) -> int | None:
        """The clean, later-updated record a duplicate copies (None past the end)."""
        j = index + 1
        while j < self.size and self.kinds[j] != CLEAN:
            j += 1
        return j if j < self.size else None

    def kinds_of(self, index: int, record_hash: int) -> list[str]:
        """Every kind of record ``index`` (primary first), without ids."""
        first = self.primary(index)
        if first is None:
            return []
        kinds = [first]
        rng = Rng(record_hash ^ _EXTRA_SALT)
        if rng.below(3) == 0:
            options = [k for k, clash in EXTRAS[self.entity].items() if first not in clash]
            if options:
                kinds.append(rng.pick(options))
        return kinds

    def labels(self, index: int, record_hash: int) -> list[str]:
        """The manifest's ``dirt`` list of record ``index``."""
        out = []
        for kind in self.kinds_of(index, record_hash):
            if kind == "duplicate_of":
                target = self.duplicate_target(index)
                kind = f"duplicate_of:{ID_BASE[self.entity] + (target or 0)}"
            out.append(kind)
        return out

    def dirty_indexes(self) -> np.ndarray:
        return np.flatnonzero(self.kinds != CLEAN)

    def mask(self, name: str) -> np.ndarray:
        """Boolean array: records whose primary kind is ``name`` (none if not a kind here)."""
        if name not in self.codes:
            return np.zeros(self.size, dtype=bool)
        return self.kinds == self.codes[name]


def _place(size: int, rate: float, key: int, n_kinds: int) -> np.ndarray:
    ppm = round(rate * _PPM)
    kinds = np.full(size, CLEAN, dtype=np.int8)
    if ppm == 0 or size == 0:
        return kinds
    offset = (key >> 11) % _PPM
    turn = (key >> 41) % n_kinds
    for lo in range(0, size, _CHUNK):  # a million at a time: flat peak memory
        pos = np.arange(lo, min(size, lo + _CHUNK), dtype=np.int64) + offset
        before = (pos * ppm) // _PPM
        after = ((pos + 1) * ppm) // _PPM
        dirty = after > before
        part = kinds[lo:lo + len(pos)]
        part[dirty] = ((after[dirty] + turn) % n_kinds).astype(np.int8)
    return kinds
