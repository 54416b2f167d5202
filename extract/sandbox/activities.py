"""Leads, tasks, appointments and sales activities of the generated tenant.

Like accounts, contacts and deals, each record is a pure function of
``(seed, entity, index)``: ``Generator.record`` calls the builders below.
Tasks, appointments and activities point (``targetable_type`` /
``targetable_id``) at clean generated deals, contacts or accounts, unless
their dirt is ``orphan``.

The task and appointment filters depend on a few attributes (due date and
status, end date). These come from their own sub-stream of the record hash,
written once for Python ints and once for numpy arrays (``*_many``), so that
the filter indexes can be built in bulk and agree with the records (a test
checks it). "Now" for the filters is ``END``, the sandbox clock every
generated timestamp lies before: overdue = open and due before ``END``; due
today = open and due on the UTC day starting at ``END``; past = ended before
``END``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from . import catalog as c
from .data import DAY, END, fmt_ts, owner_slot
from .rng import draws, hash_at, mix, mix_np

if TYPE_CHECKING:
    from .data import Generator

NOW = END
_TASK_SALT = 0x7A5C7A5C
_APPOINTMENT_SALT = 0xA4407A44
_ACTIVITY_SALT = 0xAC71AC71
_TARGET_SALT = 0x7A26E7
_LEAD_SALT = 0x1EAD1EAD
_DRAW_SALT = 0xD4A3D4A3
_TIME_ZONES = {-360: "Central America", 330: "Kolkata", 540: "Tokyo", 60: "Berlin",
               -300: "Eastern Time (US & Canada)", 0: "UTC", -480: "Pacific Time (US & Canada)",
               120: "Athens"}
_TARGET_ORDER = ("deals", "contacts", "sales_accounts")
_CHUNK = 1 << 20


# -- attributes the filters need, scalar and vectorised ------------------------------------
def task_due(a: int, updated: int) -> int:
    """Due epoch: 3% due today, 15% due later, the rest around the last update."""
    bucket, hour = (a >> 8) % 100, (a >> 16) % 24 * 3600
    if bucket < 3:
        return END + hour
    if bucket < 18:
        return END + (1 + a % 60) * DAY + hour
    return updated + (a % 80 - 20) * DAY + hour


def task_done(a: int, due: int) -> bool:
    """Completed: 70% of the tasks due before now, 10% of the others."""
    return (a >> 24) % 10 < (7 if due < NOW else 1)


def task_due_many(a: np.ndarray, updated: np.ndarray) -> np.ndarray:
    bucket = ((a >> 8) % 100).astype(np.int64)
    hour = ((a >> 16) % 24).astype(np.int64) * 3600
    later = END + (1 + (a % 60).astype(np.int64)) * DAY + hour
    around = updated + ((a % 80).astype(np.int64) - 20) * DAY + hour
    return np.where(bucket < 3, END + hour, np.where(bucket < 18, later, around))


def task_done_many(a: np.ndarray, due: np.ndarray) -> np.ndarray:
    roll = ((a >> 24) % 10).astype(np.int64)
    return roll < np.where(due < NOW, 7, 1)


def appointment_times(a: int, updated: int) -> tuple[int, int, bool]:
    """(from, end, all day): 20% on a day after now, the others around the last update."""
    if (a >> 8) % 10 < 2:
        day = (END // DAY + 1 + a % 45) * DAY
    else:
        day = (updated // DAY + a % 50 - 40) * DAY
    if (a >> 24) % 10 == 0:
        return day, day + DAY, True
    start = day + (8 + (a >> 16) % 10) * 3600
    return start, start + 30 * 60 * (1 + (a >> 28) % 3), False


def appointment_end_many(a: np.ndarray, updated: np.ndarray) -> np.ndarray:
    ahead = ((a >> 8) % 10).astype(np.int64) < 2
    day = np.where(ahead, (END // DAY + 1 + (a % 45).astype(np.int64)) * DAY,
                   (updated // DAY + (a % 50).astype(np.int64) - 40) * DAY)
    allday = ((a >> 24) % 10).astype(np.int64) == 0
    start = day + (8 + ((a >> 16) % 10).astype(np.int64)) * 3600
    length = 30 * 60 * (1 + ((a >> 28) % 3).astype(np.int64))
    return np.where(allday, day + DAY, start + length)


def filter_masks(gen: Generator, entity: str) -> dict[str, np.ndarray]:
    """Boolean membership of every generated record in each filter of a list module
    (computed a million records at a time, to keep the peak memory low)."""
    n = gen.sizes[entity]
    masks = {"all": np.ones(n, dtype=bool)}
    masks.update({f: np.zeros(n, dtype=bool) for f in c.LIST_FILTERS[entity]})
    if entity == "sales_activities":
        return masks
    key = gen.keys[entity]
    for lo in range(0, n, _CHUNK):
        indexes = np.arange(lo, min(n, lo + _CHUNK), dtype=np.int64)
        h = hash_at(key, indexes)
        updated = gen.updated_many(entity, indexes)
        part = slice(lo, lo + len(indexes))
        if entity == "tasks":
            a = mix_np(h ^ np.uint64(_TASK_SALT))
            due = task_due_many(a, updated)
            done = task_done_many(a, due)
            masks["open"][part], masks["completed"][part] = ~done, done
            masks["overdue"][part] = ~done & (due < NOW)
            masks["due_today"][part] = ~done & (due >= NOW) & (due < NOW + DAY)
        else:
            a = mix_np(h ^ np.uint64(_APPOINTMENT_SALT))
            past = appointment_end_many(a, updated) < NOW
            masks["past"][part], masks["upcoming"][part] = past, ~past
    return masks


def is_member(entity: str, key: str, rec: dict[str, Any]) -> bool:
    """Whether a (changed) record of a list module is in filter ``key`` now."""
    if key == "all":
        return True
    if entity == "tasks":
        is_open = rec.get("status") == 0
        if key == "open":
            return is_open
        if key == "completed":
            return rec.get("status") == 1
        due = _epoch(rec.get("due_date"))
        if not is_open or due is None:
            return False
        return due < NOW if key == "overdue" else NOW <= due < NOW + DAY
    if entity == "appointments":
        end = _epoch(rec.get("end_date"))
        past = end is not None and end < NOW
        return past if key == "past" else not past
    return False


def _epoch(stamp: str | None) -> int | None:
    return None if stamp is None else int(datetime.fromisoformat(stamp).timestamp())


# -- shared pieces ----------------------------------------------------------------------------
def target(gen: Generator, h: int, orphan: bool, index: int) -> tuple[str | None, int | None]:
    """(targetable_type, targetable_id): 60% deals, 25% contacts, 15% accounts."""
    t = mix(h ^ _TARGET_SALT)
    roll = t % 20
    first = 0 if roll < 12 else 1 if roll < 17 else 2
    for step in range(3):
        entity = _TARGET_ORDER[(first + step) % 3]
        size = gen.sizes[entity]
        if size:
            break
    else:
        return None, None
    if orphan:
        return c.TARGETABLE[entity], c.ORPHAN_TARGET_BASE[entity] + index
    return c.TARGETABLE[entity], c.ID_BASE[entity] + gen.clean_target(entity, (t >> 8) % size)


def _user(n: int) -> int:
    return int(c.USERS[n % len(c.USERS)]["id"])


# -- records ----------------------------------------------------------------------------------
def task(gen: Generator, i: int) -> dict[str, Any]:
    h = gen.hash("tasks", i)
    kinds = gen.kinds("tasks", i)
    created, updated = gen.times("tasks", i, h)
    offset = c.OFFSETS[(h >> 40) % len(c.OFFSETS)]
    a = mix(h ^ _TASK_SALT)
    due = task_due(a, updated)
    done = task_done(a, due)
    title_n, type_n, outcome_n, creater, back = draws(
        mix(h ^ _DRAW_SALT), (len(c.TASK_TITLES), len(c.TASK_TYPES), 8, len(c.USERS), DAY))
    kind_name = c.TASK_TYPES[type_n]["name"]
    title = c.TASK_TITLES[title_n]
    target_type, target_id = target(gen, h, "orphan" in kinds, i)
    outcome = c.SALES_ACTIVITY_OUTCOMES[outcome_n]["id"] if done and outcome_n < 5 else None
    return {
        "id": c.ID_BASE["tasks"] + i,
        "title": None if "missing:title" in kinds else title,
        "description": None if "missing:description" in kinds
        else f"{kind_name}: {title.lower()}.",
        "status": 1 if done else 0,
        "due_date": fmt_ts(due, offset),
        "completed_date": fmt_ts(max(created, updated - back), offset) if done else None,
        "targetable_type": target_type,
        "targetable_id": target_id,
        "owner_id": None if "missing:owner" in kinds else _user(owner_slot(h)),
        "creater_id": _user(creater),
        "task_type_id": c.TASK_TYPES[type_n]["id"],
        "outcome_id": outcome,
        "created_at": fmt_ts(created, offset),
        "updated_at": fmt_ts(updated, offset),
    }


def appointment(gen: Generator, i: int) -> dict[str, Any]:
    h = gen.hash("appointments", i)
    kinds = gen.kinds("appointments", i)
    created, updated = gen.times("appointments", i, h)
    offset = c.OFFSETS[(h >> 40) % len(c.OFFSETS)]
    start, end, allday = appointment_times(mix(h ^ _APPOINTMENT_SALT), updated)
    title_n, place_n, outcome_n, creater = draws(
        mix(h ^ _DRAW_SALT),
        (len(c.APPOINTMENT_TITLES), len(c.MEETING_PLACES), 8, len(c.USERS)))
    title = c.APPOINTMENT_TITLES[title_n]
    target_type, target_id = target(gen, h, "orphan" in kinds, i)
    past = end < NOW
    return {
        "id": c.ID_BASE["appointments"] + i,
        "title": None if "missing:title" in kinds else title,
        "description": f"{title} with the customer",
        "from_date": fmt_ts(start, offset),
        "end_date": fmt_ts(end, offset),
        "time_zone": _TIME_ZONES[offset],
        "location": None if "missing:location" in kinds else c.MEETING_PLACES[place_n],
        "is_allday": allday,
        "targetable_type": target_type,
        "targetable_id": target_id,
        "owner_id": None if "missing:owner" in kinds else _user(owner_slot(h)),
        "creater_id": _user(creater),
        "outcome_id": c.SALES_ACTIVITY_OUTCOMES[outcome_n]["id"]
        if past and outcome_n < 5 else None,
        "created_at": fmt_ts(created, offset),
        "updated_at": fmt_ts(updated, offset),
    }


def sales_activity(gen: Generator, i: int) -> dict[str, Any]:
    h = gen.hash("sales_activities", i)
    kinds = gen.kinds("sales_activities", i)
    created, updated = gen.times("sales_activities", i, h)
    offset = c.OFFSETS[(h >> 40) % len(c.OFFSETS)]
    a = mix(h ^ _ACTIVITY_SALT)
    title_n, type_n, outcome_n, product, creater, length, back = draws(
        a, (len(c.ACTIVITY_TITLES), len(c.SALES_ACTIVITY_TYPES), 10, len(c.DEAL_PRODUCTS),
            len(c.USERS), 4, 3 * DAY))
    end = max(created, updated - back)
    start = max(created, end - 15 * 60 * (1 + length))
    activity_type = c.SALES_ACTIVITY_TYPES[type_n]["id"]
    outcomes = [o["id"] for o in c.SALES_ACTIVITY_OUTCOMES
                if o["sales_activity_type_id"] in (None, activity_type)]
    target_type, target_id = target(gen, h, "orphan" in kinds, i)
    return {
        "id": c.ID_BASE["sales_activities"] + i,
        "title": None if "missing:title" in kinds else c.ACTIVITY_TITLES[title_n],
        "notes": None if "missing:notes" in kinds
        else f"Talked about the {c.DEAL_PRODUCTS[product].lower()}.",
        "start_date": fmt_ts(start, offset),
        "end_date": fmt_ts(end, offset),
        "owner_id": None if "missing:owner" in kinds else _user(owner_slot(h)),
        "creater_id": _user(creater),
        "sales_activity_type_id": None if "missing:sales_activity_type" in kinds
        else activity_type,
        "sales_activity_outcome_id": outcomes[outcome_n % len(outcomes)]
        if outcome_n < 7 else None,
        "targetable_type": target_type,
        "targetable_id": target_id,
        "created_at": fmt_ts(created, offset),
        "updated_at": fmt_ts(updated, offset),
    }


def lead_email(gen: Generator, index: int) -> str:
    """A lead's email: unique per lead (the number is the lead's), so only duplicates share."""
    (_, first), (_, last), account = _lead_person(gen, index)
    domain = gen.domain(account) if account is not None else "mail.example"
    return f"{first}.{last}{index + 1}@{domain}"


def _lead_person(gen: Generator, index: int) -> tuple[tuple[str, str], tuple[str, str],
                                                      int | None]:
    h = gen.hash("leads", index)
    first, last = draws(mix(h ^ _LEAD_SALT), (len(c.FIRST_NAMES), len(c.LAST_NAMES)))
    n = gen.sizes["sales_accounts"]
    account = None if n == 0 or (h >> 20) % 5 == 0 else (h >> 32) % n
    return c.FIRST_NAMES[first], c.LAST_NAMES[last], account


def lead(gen: Generator, i: int) -> dict[str, Any]:
    h = gen.hash("leads", i)
    kinds = gen.kinds("leads", i)
    created, updated = gen.times("leads", i, h)
    offset = c.OFFSETS[(h >> 40) % len(c.OFFSETS)]
    region_n, place_n, source_n, unmapped_n, stage_n, job_n, score = draws(
        mix(h ^ _DRAW_SALT), (3, 4, 3, 3, len(c.LEAD_STAGES), len(c.JOB_TITLES), 100))
    source = i
    if "duplicate_of" in kinds:
        source = gen.plans["leads"].duplicate_target(i) or i
    (first, _), (last, _), _ = _lead_person(gen, source)
    _, _, account = _lead_person(gen, i)
    first_name: str | None = first
    last_name: str | None = None if "missing:last_name" in kinds else last
    email: str | None = None if "missing:email" in kinds else lead_email(gen, source)
    lead_source = c.LEAD_SOURCES[source_n]
    if "unmapped:lead_source" in kinds:
        lead_source = c.LEAD_SOURCES_UNMAPPED[unmapped_n]
    places = c.PLACES[c.REGIONS[region_n]]
    city, _, country, _ = places[place_n % len(places)]
    company = None if account is None or "missing:company" in kinds \
        else {"name": gen.company(account)}
    return {
        "id": c.ID_BASE["leads"] + i,
        "first_name": first_name,
        "last_name": last_name,
        "display_name": " ".join(p for p in (first_name, last_name) if p) or email,
        "email": email,
        "job_title": None if "missing:job_title" in kinds else c.JOB_TITLES[job_n],
        "company": company,
        "city": city,
        "country": country,
        "lead_source_id": c.LEAD_SOURCE_ID[lead_source],
        "lead_stage_id": c.LEAD_STAGES[stage_n]["id"],
        "owner_id": _user(owner_slot(h)),
        "lead_score": score,
        "is_deleted": "deleted" in kinds,
        "created_at": fmt_ts(created, offset),
        "updated_at": fmt_ts(updated, offset),
    }
