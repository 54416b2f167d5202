"""dlt's `pipeline.dataset()` reads raw: the pinned dlt and sqlglot work together.

sqlglot 30.22 removed the `infer_schema` argument of `qualify()` that dlt 1.31 passes;
with it every dataset read failed with a TypeError (requirements.txt pins sqlglot).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
from dlt.destinations import duckdb as duckdb_destination
from extract_helpers import SMALL, sandbox


def test_pipeline_dataset_reads_the_raw_deals(
        run_duckdb: Callable[..., dict[str, Any]], db_path: Path, tmp_path: Path) -> None:
    with sandbox() as sb:
        summary = run_duckdb(sb)
    pipeline = dlt.pipeline(summary["pipeline_name"], pipelines_dir=str(tmp_path / "pipelines"),
                            destination=duckdb_destination(str(db_path)), dataset_name="raw")
    deals = pipeline.dataset()["deals"].df()
    assert len(deals) == SMALL["deals"]
    assert deals["id"].is_unique
