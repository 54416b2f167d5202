"""Fixtures shared by every test folder: the gate of tests that need a service
(PostgreSQL here, Spark in tests/spark) and a quiet environment."""

from __future__ import annotations

import os

import pytest
from gates import require_or_skip

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _postgres_answers() -> str | None:
    """Return None when PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg2

        conn = psycopg2.connect(
            host=os.environ.get("PGHOST", "127.0.0.1"),
            port=int(os.environ.get("PGPORT", "5432")),
            user=os.environ.get("PGUSER", "postgres"),
            password=os.environ.get("PGPASSWORD", ""),
            dbname=os.environ.get("PGDATABASE", "postgres"),
            connect_timeout=3,
        )
        conn.close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@pytest.fixture(scope="session")
def require_postgres() -> None:
    """Skip (visibly) without PostgreSQL; fail instead when REQUIRE_POSTGRES=1."""
    require_or_skip(
        _postgres_answers(), "REQUIRE_POSTGRES", "PostgreSQL does not answer",
        "PostgreSQL not available ({reason}); set PGHOST/PGPORT or start it",
    )
