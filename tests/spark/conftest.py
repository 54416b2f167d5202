"""Fixtures of the Spark tests: a gate on Java and .venv-spark, and one sandbox
extracted to DuckDB and to Parquet, synced once, then built on both engines."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gates import require_or_skip
from spark_support import (
    SPARK_DBT,
    SPARK_PYTHON,
    BuiltMarts,
    admin_mutate,
    build_both,
    extract_both,
)

from extract.sandbox import SandboxConfig, serve_in_thread

# 30% of the deals in EUR, GBP or INR: Spark converts them as DuckDB does.
SANDBOX = SandboxConfig(seed=42, accounts=200, contacts=1000, deals=1500,
                        foreign_currency_share=0.3)


def _spark_missing() -> str | None:
    """None when a Spark build can run here, else what is missing."""
    java = shutil.which("java")
    if java is None:
        return "no `java` on PATH (Spark needs Java 17 or 21)"
    if not SPARK_DBT.exists():
        return f"{SPARK_DBT} is missing (run `make setup-spark`)"
    probe = subprocess.run(
        [str(SPARK_PYTHON), "-c", "import pyspark, dbt.adapters.spark"],
        capture_output=True, text=True, timeout=60,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["import failed"])[-1]
        return f".venv-spark lacks pyspark or dbt-spark ({last}); run `make setup-spark`"
    return None


@pytest.fixture(scope="session")
def require_spark() -> None:
    """Skip (visibly) without Java or .venv-spark; fail instead when REQUIRE_SPARK=1."""
    require_or_skip(_spark_missing(), "REQUIRE_SPARK", "Spark cannot run",
                    "Spark not available: {reason}")


@pytest.fixture(scope="module")
def synced(require_spark: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The sandbox extracted to both destinations, changed, and synced again,
    so the Parquet files hold two versions of the changed deals."""
    workdir = tmp_path_factory.mktemp("spark")
    with serve_in_thread(SANDBOX) as sandbox:
        first = extract_both(sandbox, workdir)
        changed = admin_mutate(sandbox, {"entity": "deals", "count": 25})
        deleted = admin_mutate(sandbox, {"entity": "deals", "count": 1, "delete": True})
        second = extract_both(sandbox, workdir)
    yield {"workdir": workdir, "first": first, "second": second,
           "changed": changed, "deleted": deleted}


@pytest.fixture(scope="module")
def marts(synced: dict[str, Any]) -> BuiltMarts:
    """`dbt build` on Spark and on DuckDB (at the same time) of the synced raw."""
    return build_both(Path(synced["workdir"]))
