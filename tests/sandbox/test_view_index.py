"""OrderedView against a brute-force model: random edits, every order and page size."""

from __future__ import annotations

import random

import numpy as np
import pytest

from extract.sandbox.views import OrderedView


def _pages(view: OrderedView, per_page: int, order: str, desc: bool) -> list[int]:
    out, page = [], 1
    while chunk := view.page(page, per_page, order, desc):
        out.extend(chunk)
        page += 1
    return out


@pytest.mark.parametrize("trial", range(80))
def test_pages_match_a_brute_force_model(trial: int) -> None:
    rnd = random.Random(trial)
    size = rnd.randint(0, 80)
    created = np.array([rnd.randint(0, 30) for _ in range(size + 11)], dtype=np.int64)
    members = sorted(i for i in range(size) if rnd.random() < 0.6)
    view = OrderedView(np.array(members, dtype=np.int32))

    def sort_created() -> None:
        view.sort_by_created(lambda base: created[base], lambda i: int(created[i]))

    early = trial % 2 == 0  # build the created_at order before or after the edits
    if early:
        sort_created()
    edits: dict[int, tuple[int, bool]] = {}
    for seq in range(1, rnd.randint(0, 50) + 1):
        index = rnd.randint(0, size + 10)  # above `size`: created records
        member = rnd.random() < 0.6
        if index < size:
            view.drop_base(index, int(created[index]))
        view.place(index, seq, member, int(created[index]))
        edits[index] = (seq, member)
    if not early:
        sort_created()
    untouched = [i for i in members if i not in edits]
    overlay = [i for _, i in sorted((s, i) for i, (s, m) in edits.items() if m)]
    expected = {"updated_at": untouched + overlay, "id": sorted(untouched + overlay),
                "created_at": sorted(untouched + overlay, key=lambda i: (created[i], i))}
    assert len(view) == len(expected["id"])
    for per_page in (1, 3, 7, 100):
        for order, want in expected.items():
            assert _pages(view, per_page, order, False) == want
            assert _pages(view, per_page, order, True) == want[::-1]
