"""Fixtures shared by every test folder: a PostgreSQL gate and a quiet environment."""

from __future__ import annotations

import os

import pytest

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
    reason = _postgres_answers()
    if reason is None:
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL does not answer: {reason}")
    pytest.skip(f"PostgreSQL not available ({reason}); set PGHOST/PGPORT or start it")
