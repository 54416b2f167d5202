"""The members of one view, in order, without materialising them.

A view is the union of two sorted sequences:

- *base*: generated records that were members at start and were never edited:
  a numpy array of indexes sorted by the order's key, minus the positions of
  edited ones (a sorted list);
- *overlay*: edited or created records that are members now, kept sorted by
  the order's key in small Python lists.

Orders and their keys: ``id`` (the index), ``updated_at`` (generated
``updated_at`` grows with the index and every edit is later than any
generated record, so: base in index order, then overlay by edit sequence) and
``created_at`` ((created epoch, index); its base array is sorted on first
use). Any page costs O(log n + page).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from typing import Any

import numpy as np

ORDERS = ("updated_at", "id", "created_at")


class _Run:
    """Sorted base values minus removed positions; ``keys`` order them (default: values)."""

    def __init__(self, values: np.ndarray, keys: np.ndarray | None = None) -> None:
        self.values = values
        self.keys = keys
        self.removed: list[int] = []
        self.removed_set: set[int] = set()

    def __len__(self) -> int:
        return len(self.values) - len(self.removed)

    def remove(self, pos: int) -> None:
        if pos not in self.removed_set:
            self.removed_set.add(pos)
            insort(self.removed, pos)

    def key(self, pos: int) -> Any:
        value = int(self.values[pos])
        return value if self.keys is None else (int(self.keys[pos]), value)

    def pos_of_rank(self, rank: int) -> int:
        """Position of the rank-th value still there."""
        lo, hi = rank, rank + len(self.removed)
        while lo < hi:
            mid = (lo + hi) // 2
            if mid + 1 - bisect_right(self.removed, mid) >= rank + 1:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def next_live(self, pos: int) -> int:
        while pos < len(self.values) and pos in self.removed_set:
            pos += 1
        return pos


class OrderedView:
    def __init__(self, base: np.ndarray) -> None:
        self.base = base
        self._by_index = _Run(base)
        self.seq_of: dict[int, int] = {}  # overlay member index -> edit sequence
        self.by_seq: list[int] = []  # overlay edit sequences, ascending
        self.index_of_seq: dict[int, int] = {}
        self.by_index: list[int] = []  # overlay member indexes, ascending
        self.created_of: dict[int, int] = {}  # overlay member index -> created epoch
        self.by_created: list[tuple[int, int]] = []  # overlay (created, index), ascending
        self._by_created: _Run | None = None  # base sorted by (created, index), lazily

    def __len__(self) -> int:
        return len(self._by_index) + len(self.by_seq)

    # -- changes ------------------------------------------------------------------------
    def drop_base(self, index: int, created: int | None = None) -> None:
        """Record ``index`` was edited: it leaves the base sequence (if it was there)."""
        pos = int(np.searchsorted(self.base, index))
        if pos < len(self.base) and int(self.base[pos]) == index:
            self._by_index.remove(pos)
            if self._by_created is not None and created is not None:
                self._by_created.remove(self._created_pos(index, created))

    def place(self, index: int, seq: int, member: bool, created: int = 0) -> None:
        """Record ``index`` was edited with sequence ``seq`` (the highest so far)."""
        old = self.seq_of.pop(index, None)
        if old is not None:
            del self.by_seq[bisect_left(self.by_seq, old)]
            del self.index_of_seq[old]
            del self.by_index[bisect_left(self.by_index, index)]
            old_created = self.created_of.pop(index)
            del self.by_created[bisect_left(self.by_created, (old_created, index))]
        if member:
            self.seq_of[index] = seq
            self.by_seq.append(seq)
            self.index_of_seq[seq] = index
            insort(self.by_index, index)
            self.created_of[index] = created
            insort(self.by_created, (created, index))

    def sort_by_created(self, created_of_base: Callable[[np.ndarray], np.ndarray],
                        created_of: Callable[[int], int]) -> None:
        """Build the ``created_at`` order of the base (once); ``created_of_base`` is vectorised."""
        if self._by_created is not None:
            return
        created = created_of_base(self.base)
        order = np.lexsort((self.base, created))
        run = _Run(self.base[order], created[order])
        self._by_created = run
        for pos in self._by_index.removed:
            index = int(self.base[pos])
            run.remove(self._created_pos(index, created_of(index)))

    def _created_pos(self, index: int, created: int) -> int:
        run = self._by_created
        assert run is not None and run.keys is not None
        pos = int(np.searchsorted(run.keys, created))
        while int(run.values[pos]) != index:
            pos += 1
        return pos

    # -- reading ------------------------------------------------------------------------
    def page(self, page: int, per_page: int, order: str = "id", desc: bool = False) -> list[int]:
        """Indexes of the records on ``page`` (1-based)."""
        total = len(self)
        lo = (page - 1) * per_page
        if lo >= total:
            return []
        hi = min(total, lo + per_page)
        if desc:
            return self.ranks(total - hi, total - lo, order)[::-1]
        return self.ranks(lo, hi, order)

    def ranks(self, lo: int, hi: int, order: str) -> list[int]:
        """Indexes at ascending ranks ``[lo, hi)``."""
        if order == "updated_at":
            run = self._by_index
            n_base = len(run)
            out = _take(run, lo, min(hi, n_base)) if lo < n_base else []
            start = max(lo, n_base) - n_base
            out.extend(self.index_of_seq[s] for s in self.by_seq[start:max(0, hi - n_base)])
            return out
        if order == "created_at":
            if self._by_created is None:
                raise RuntimeError("call sort_by_created() before reading by created_at")
            return _merged(self._by_created, self.by_created, lo, hi)
        return _merged(self._by_index, self.by_index, lo, hi)


def _take(run: _Run, lo: int, hi: int) -> list[int]:
    out: list[int] = []
    pos = run.pos_of_rank(lo)
    while len(out) < hi - lo:
        pos = run.next_live(pos)
        out.append(int(run.values[pos]))
        pos += 1
    return out


def _index_of(key: Any) -> int:
    return key if isinstance(key, int) else key[1]


def _merged(run: _Run, over: list[Any], lo: int, hi: int) -> list[int]:
    """Ranks ``[lo, hi)`` of the union of ``run`` and the sorted keys ``over``."""
    n_base = len(run)
    # How many of the first ``lo`` records come from the base run.
    a, b = max(0, lo - len(over)), min(lo, n_base)
    while a < b:
        k = (a + b) // 2
        if run.key(run.pos_of_rank(k)) < over[lo - k - 1]:
            a = k + 1
        else:
            b = k
    j = lo - a
    pos = run.pos_of_rank(a) if a < n_base else len(run.values)
    out: list[int] = []
    while len(out) < hi - lo:
        pos = run.next_live(pos)
        base_key = run.key(pos) if pos < len(run.values) else None
        if base_key is not None and (j >= len(over) or base_key < over[j]):
            out.append(_index_of(base_key))
            pos += 1
        else:
            out.append(_index_of(over[j]))
            j += 1
    return out
