"""Deterministic per-record randomness.

Every generated record is a pure function of ``(seed, entity, index)``: its
64-bit hash seeds a tiny splitmix64 generator. The same hash is computed in
bulk with numpy (``hash_many``) to build the view indexes at start-up, so the
two paths must agree bit for bit (a test checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
ENTITY_SALT = {"sales_accounts": 0x5A1E5, "contacts": 0xC0DAC7, "deals": 0xDEA15,
               "leads": 0x1EAD5, "tasks": 0x7A5C5, "appointments": 0xA4407,
               "sales_activities": 0x5A1E5AC7}

T = TypeVar("T")


def mix(x: int) -> int:
    """splitmix64 finaliser of a Python int (0 <= x < 2**64)."""
    x = (x ^ (x >> 30)) * _M1 & MASK
    x = (x ^ (x >> 27)) * _M2 & MASK
    return x ^ (x >> 31)


def mix_np(x: np.ndarray) -> np.ndarray:
    """The same finaliser over a uint64 array (numpy wraps on overflow)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_M1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_M2)
    return x ^ (x >> np.uint64(31))


def entity_key(seed: int, entity: str) -> int:
    """The per-(seed, entity) constant mixed into every record hash."""
    return mix((seed * _GOLDEN + ENTITY_SALT[entity]) & MASK)


def record_hash(key: int, index: int) -> int:
    """Hash of record ``index`` of the entity whose constant is ``key``."""
    return mix((key + (index + 1) * _GOLDEN) & MASK)


def hash_many(key: int, count: int) -> np.ndarray:
    """``record_hash(key, i)`` for every i in ``range(count)``, as uint64."""
    return hash_at(key, np.arange(count, dtype=np.uint64))


def hash_at(key: int, indexes: np.ndarray) -> np.ndarray:
    """``record_hash(key, i)`` for every i in ``indexes``, as uint64."""
    idx = indexes.astype(np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        return mix_np(np.uint64(key) + idx * np.uint64(_GOLDEN))


def draws(x: int, radices: tuple[int, ...]) -> list[int]:
    """Split a 64-bit hash into independent small draws, one in ``[0, n)`` per radix.

    Mixed-radix decoding: much cheaper than one generator call per value. Keep
    the product of the radices well below 2**64 so the draws stay uniform.
    """
    out = []
    for n in radices:
        x, v = divmod(x, n)
        out.append(v)
    return out


class Rng:
    """A small, fast splitmix64 stream seeded from a record hash."""

    __slots__ = ("_state",)

    def __init__(self, state: int) -> None:
        self._state = state & MASK

    def u64(self) -> int:
        self._state = (self._state + _GOLDEN) & MASK
        return mix(self._state)

    def below(self, n: int) -> int:
        """An int in ``[0, n)``."""
        return self.u64() % n

    def between(self, lo: int, hi: int) -> int:
        """An int in ``[lo, hi]``."""
        return lo + self.u64() % (hi - lo + 1)

    def chance(self, p: float) -> bool:
        return self.u64() < p * 18446744073709551616.0

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.u64() % len(seq)]
