"""The wording of failures a user meets, for the CLI, the tools and the demo.

Every failure is one line (never a secret, never a traceback unless
--verbose), printed by `report()`: the ExtractError family raised by the
runner, the ToolError of the tools, and `explain()`, which turns any exception
chain (dlt's PipelineStepFailed around a CRM, database or disk error) into that
line. The sentences that several commands say (a warehouse not built yet, a
locked DuckDB file, an unreachable PostgreSQL) are written once, below.
"""

from __future__ import annotations

import errno
import sys
import traceback
from collections.abc import Iterable, Iterator
from typing import Any


class ExtractError(RuntimeError):
    """A failure with a one-line message for the user (never a secret)."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class LockHeld(ExtractError):
    pass


class BudgetStopped(ExtractError):
    """The CRM's request budget ran out before every view was read to its end.

    What was read is loaded and each unfinished view saved its position: the
    next run continues there. The CLI exits with EXIT_BUDGET for it.
    """


class DestinationUnavailable(ExtractError):
    pass


class ToolError(Exception):
    """A failure of a tool (export, find, update-value, upsert, ...): printed as
    one line, exit code `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


DUCKDB_LOCKED = (
    "the DuckDB file is in use by another process (a BI tool, a running dbt build?); "
    "close it and run again"
)
PG_SETTINGS_HINT = "check PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE or DATABASE_URL"


def not_built(what: str) -> str:
    """`what` is missing because nothing was extracted and built yet."""
    return f"{what}; run `make extract build` first"


def pg_unreachable(where: str, reason: str) -> str:
    return f"cannot connect to {where}: {reason} ({PG_SETTINGS_HINT})"


def unexpected(exc: BaseException) -> str:
    """The line of a failure nobody foresaw (a bug): its type, and where to look."""
    return f"unexpected {type(exc).__name__}: {exc} (run with --verbose for details)"


def mask(message: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def report(message: str, verbose: bool = False, secrets: Iterable[str] = ()) -> None:
    """Print a failure as `error: <one line>` on stderr, secrets masked; the
    traceback of the exception being handled goes first with --verbose."""
    if verbose:
        traceback.print_exc()
    print(f"error: {mask(message, secrets)}", file=sys.stderr)


def explain(exc: BaseException, secrets: tuple[str, ...] = ()) -> str | None:
    """One line for a failure a user will meet, or None when it is a bug."""
    from extract.freshsales.client import CrmError  # imports dlt: only when explaining

    message: str | None = None
    for cause in chain(exc):
        if isinstance(cause, ExtractError | CrmError):
            message = str(cause)
        elif isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            message = (
                f"disk full while writing {cause.filename or 'extract files'}; free some "
                "space and run again (the next run resumes where this one stopped)"
            )
        elif is_duckdb_lock(cause):
            message = DUCKDB_LOCKED
        elif type(cause).__module__.startswith("psycopg2") and "connect" in str(cause):
            message = f"PostgreSQL connection failed: {str(cause).strip().splitlines()[0]}"
        if message:
            break
    if message is None:
        return None
    return mask(message, secrets)


def chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = getattr(current, "exception", None)
        todo.extend([current.__cause__, current.__context__])
        if isinstance(nested, BaseException):
            todo.append(nested)


def is_duckdb_lock(exc: BaseException) -> bool:
    return type(exc).__name__ == "IOException" and "lock" in str(exc).lower()


def destination_problem(exc: BaseException) -> bool:
    """The destination is unreachable, locked or full: the package is fine, keep it."""
    for cause in chain(exc):
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return True
        if is_duckdb_lock(cause):
            return True
        name = type(cause).__name__
        if name in ("OperationalError", "DestinationConnectionError",
                    "DestinationTransientException") or "connection" in str(cause).lower()[:200]:
            return True
    return False


def first_line(exc: BaseException) -> str:
    from dlt.pipeline.exceptions import PipelineStepFailed

    causes = [c for c in chain(exc) if not isinstance(c, PipelineStepFailed)]
    text = str(causes[-1] if causes else exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]
