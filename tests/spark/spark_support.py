"""Helpers of the Spark tests: extract to both destinations, build on both
engines, read the marts of each (Spark's straight from its Parquet warehouse)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import requests

from extract.pipeline import run_extract

ROOT = Path(__file__).resolve().parents[2]
SPARK_PYTHON = ROOT / ".venv-spark" / "bin" / "python"
SPARK_DBT = ROOT / ".venv-spark" / "bin" / "dbt"
MART_KEYS = {
    "accounts": "id",
    "contacts": "id",
    "deals": "id",
    "rejected_records": "crm_id",
    "deal_aggregations": "account_id, aggregation_type, aggregation_date",
    "tasks": "id",
    "appointments": "id",
    "sales_activities": "id",
    "leads": "id",
    "users": "id",
}
BUILD_TIMEOUT_S = 300


def admin_mutate(sandbox: Any, body: dict[str, Any]) -> list[int]:
    """Change records in the sandbox CRM (they get a new updated_at)."""
    response = requests.post(
        sandbox.base_url.rstrip("/") + "/admin/mutate", json=body, timeout=10,
        headers={"Authorization": f"Token token={sandbox.api_key}"},
    )
    response.raise_for_status()
    return list(response.json()["ids"])


def extract_both(sandbox: Any, workdir: Path) -> dict[str, dict[str, Any]]:
    """One sync of the sandbox into a DuckDB file and into Parquet files."""
    common = dict(base_url=sandbox.base_url, api_key=sandbox.api_key, dataset="raw")
    return {
        "duckdb": run_extract(destination="duckdb", duckdb_path=workdir / "crm.duckdb",
                              pipelines_dir=workdir / "pipelines", **common),
        "filesystem": run_extract(destination="filesystem",
                                  bucket_url=workdir / "raw_parquet",
                                  pipelines_dir=workdir / "pipelines", **common),
    }


@dataclass
class Build:
    engine: str
    returncode: int
    output: str
    seconds: float


@dataclass
class BuiltMarts:
    duckdb_file: Path
    warehouse: Path
    spark: Build
    duckdb: Build

    def duckdb_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.duckdb_file), read_only=True) as con:
            return con.execute(sql).fetchall()

    def spark_table(self, mart: str) -> str:
        """The Parquet files of a Spark mart, as a DuckDB table expression."""
        return f"read_parquet('{self.warehouse / 'marts.db' / mart}/*.parquet')"

    def spark_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect() as con:
            return con.execute(sql).fetchall()


def _dbt_command(dbt: Path, target: str, workdir: Path) -> list[str]:
    profiles = workdir / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "profiles.example.yml", profiles / "profiles.yml")
    return [
        str(dbt), "build", "--target", target, "--project-dir", str(ROOT),
        "--profiles-dir", str(profiles), "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
    ]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **extra}
    env.pop("DBT_TARGET", None)
    env.pop("DBT_SCHEMA_PREFIX", None)
    return env


def build_both(workdir: Path) -> BuiltMarts:
    """dbt build on Spark (in the background) and on DuckDB, of the same raw."""
    spark_dir = workdir / "spark"
    spark_env = _env(
        RAW_PARQUET_URL=str(workdir / "raw_parquet"), SPARK_WORK_DIR=str(spark_dir / "work"),
        SPARK_LOCAL_IP="127.0.0.1", SPARK_CATALOG="in-memory",
    )
    started = time.monotonic()
    spark = subprocess.Popen(
        _dbt_command(SPARK_DBT, "spark", spark_dir), cwd=ROOT, env=spark_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    duck_dbt = Path(sys.executable).with_name("dbt")
    duck_started = time.monotonic()
    duck = subprocess.run(
        _dbt_command(duck_dbt, "duckdb", workdir / "duck"), cwd=ROOT,
        env=_env(DUCKDB_PATH=str(workdir / "crm.duckdb")),
        capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
    )
    duck_build = Build("duckdb", duck.returncode, duck.stdout + duck.stderr,
                       time.monotonic() - duck_started)
    try:
        spark_output, _ = spark.communicate(timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        spark.kill()
        spark_output, _ = spark.communicate()
    spark_build = Build("spark", spark.returncode, spark_output, time.monotonic() - started)
    return BuiltMarts(workdir / "crm.duckdb", spark_dir / "work" / "warehouse",
                      spark_build, duck_build)


def tail(build: Build, lines: int = 40) -> str:
    return "\n".join(build.output.splitlines()[-lines:])
