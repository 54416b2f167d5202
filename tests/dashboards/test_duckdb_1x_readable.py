"""The DuckDB file the project writes opens in a DuckDB 1.x client (what most
BI tools embed): the extractor and dbt create it with
`storage_compatibility_version` (extract.config.duckdb_config, the duckdb
profile's config_options). The 1.x client runs in a throwaway venv, kept
between runs under the system's temp folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
from dbt_support import DbtProject
from gates import require_or_skip

DUCKDB_1X = "1.1.3"
VENV = Path(tempfile.gettempdir()) / f"crm_management-duckdb-{DUCKDB_1X}"
COUNTS = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {"version": duckdb.__version__}
for query in sys.argv[2:]:
    out[query] = [list(map(str, row)) for row in con.execute(query).fetchall()]
print(json.dumps(out))
"""
QUERIES = (
    "select count(*), sum(deal_size) from marts.deals",
    "select count(*) from marts.accounts",
    "select aggregation_type, count(*), sum(total_deal_size) from marts.deal_aggregations"
    " group by 1 order by 1",
    "select count(*) from raw.deals",
)


def _install() -> str | None:
    """The 1.x client's venv (made once); None when ready, else why it is not."""
    python = VENV / "bin" / "python"
    if python.exists():
        return None
    staging = Path(tempfile.mkdtemp(prefix=VENV.name + ".", dir=VENV.parent))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True,
                       capture_output=True, timeout=120)
        pip = subprocess.run(
            [str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", f"duckdb=={DUCKDB_1X}"],
            capture_output=True, text=True, timeout=300,
        )
        if pip.returncode != 0:
            return f"pip install duckdb=={DUCKDB_1X} failed: {pip.stderr.strip()[-300:]}"
        staging.rename(VENV)  # a venv's scripts name its folder: the final one
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot make a venv with duckdb {DUCKDB_1X}: {exc}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@pytest.fixture(scope="session")
def duckdb_1x() -> Path:
    reason = _install()
    require_or_skip(reason, "REQUIRE_DUCKDB1", "the DuckDB 1.x client is missing",
                    "DuckDB 1.x client not available ({reason})")
    return VENV / "bin" / "python"


def read_with(python: Path, path: Path, *queries: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", COUNTS, str(path), *queries],
                          capture_output=True, text=True, timeout=120)


def test_the_built_file_reads_the_same_in_duckdb_1x(duckdb_1x: Path, marts_duckdb: Path,
                                                    tmp_path: Path) -> None:
    copy = tmp_path / "crm.duckdb"  # the session's file stays untouched
    shutil.copy(marts_duckdb, copy)
    old = read_with(duckdb_1x, copy, *QUERIES)
    assert old.returncode == 0, old.stderr
    result = json.loads(old.stdout)
    assert result["version"] == DUCKDB_1X
    with duckdb.connect(str(marts_duckdb), read_only=True) as con:
        for query in QUERIES:
            now = [list(map(str, row)) for row in con.execute(query).fetchall()]
            assert result[query] == now, query
    assert int(result[QUERIES[0]][0][0]) > 1000


def test_a_file_dbt_creates_reads_in_duckdb_1x(duckdb_1x: Path, tmp_path: Path) -> None:
    """dbt's profile creates the file the same way (`dbt seed` on a new path)."""
    path = tmp_path / "seeded.duckdb"
    DbtProject(tmp_path / "dbt", env={"DUCKDB_PATH": str(path)}).run("seed")
    old = read_with(duckdb_1x, path, "select count(*) from staging.map_region")
    assert old.returncode == 0, old.stderr
    assert int(json.loads(old.stdout)["select count(*) from staging.map_region"][0][0]) > 0


def test_without_the_setting_duckdb_1x_refuses_the_file(duckdb_1x: Path,
                                                       tmp_path: Path) -> None:
    """The control: duckdb 2.0's default format, which 1.x clients cannot open."""
    path = tmp_path / "default.duckdb"
    env = {k: v for k, v in os.environ.items() if k != "DUCKDB_STORAGE_VERSION"}
    subprocess.run([sys.executable, "-c", "import duckdb, sys;"
                    " duckdb.connect(sys.argv[1]).execute('create table t as select 1 as x')",
                    str(path)], check=True, env=env, timeout=60)
    old = read_with(duckdb_1x, path, "select count(*) from t")
    assert old.returncode != 0
    assert "version number" in old.stderr
