"""The gate of tests that need a service (PostgreSQL, Spark): skip with the
reason on a user's machine, fail in CI where the REQUIRE_* flag is set."""

from __future__ import annotations

import os

import pytest


def require_or_skip(reason: str | None, flag: str, failure: str, skip: str) -> None:
    """The gate of tests that need a service: nothing when `reason` is None;
    else fail when env `flag` is 1 (CI), and skip with the reason otherwise."""
    if reason is None:
        return
    if os.environ.get(flag) == "1":
        pytest.fail(f"{flag}=1 but {failure}: {reason}")
    pytest.skip(skip.format(reason=reason))
