"""The semantic layer answers like the marts: `mf query` (MetricFlow) by week
and by month, on DuckDB and on PostgreSQL, against deal_aggregations,
deals_enhanced and owner_performance of the same build."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_support import ROOT, DbtProject, extract_postgres, pg_cursor, postgres_project

Fetch = Callable[[str], list[tuple[Any, ...]]]
Series = dict[date, dict[str, Any]]
GRAINS = ("week", "month")
# metrics compared with deal_aggregations (by created day) and with the
# deals (by close day)
CREATED = ("total_deal_size", "sized_deal_count", "deal_count")
CLOSED = ("bookings", "won_deal_count", "closed_deal_count", "win_rate")


class SemanticLayer:
    """`mf` on a copy of the project (MetricFlow reads <project>/target), so
    the repo's own target/ is never touched."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.project = workdir / "project"
        self.project.mkdir(parents=True)
        shutil.copy(ROOT / "dbt_project.yml", self.project)
        shutil.copytree(ROOT / "dbt_project", self.project / "dbt_project")
        self.profiles = workdir / "profiles"
        self.profiles.mkdir()
        shutil.copy(ROOT / "profiles.example.yml", self.profiles / "profiles.yml")
        self.env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env,
                    "DBT_PROJECT_DIR": str(self.project),
                    "DBT_PROFILES_DIR": str(self.profiles)}
        self._run("dbt", "parse", "--log-path", str(workdir / "logs"))

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).with_name(tool)), *args]
        result = subprocess.run(command, cwd=self.project, env=self.env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, f"{tool} {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result

    def query(self, metrics: tuple[str, ...], grain: str) -> Series:
        out = self.project / f"{grain}_{'_'.join(metrics)}.csv"
        self._run("mf", "query", "--metrics", ",".join(metrics),
                  "--group-by", f"metric_time__{grain}", "--csv", str(out))
        with out.open() as handle:
            rows = list(csv.DictReader(handle))
        periods = {}
        for row in rows:
            period = row.pop(f"metric_time__{grain}")
            if period:
                periods[datetime.fromisoformat(period).date()] = row
            else:  # deals without the metric's date (open deals: no close date)
                assert not any(as_number(value) for value in row.values()), row
        return periods


def mart_series(fetch: Fetch, schema: str, grain: str) -> dict[str, Series]:
    """The same figures, computed from the marts with plain SQL."""
    kind = {"week": "weekly", "month": "monthly"}[grain]
    aggregations = fetch(f"""
        select aggregation_date, sum(total_deal_size), sum(deal_count)
        from {schema}.deal_aggregations where aggregation_type = '{kind}'
        group by aggregation_date""")
    created = fetch(f"""
        select cast(date_trunc('{grain}', created_date) as date), count(*)
        from {schema}.deals_enhanced group by 1""")
    closed = fetch(f"""
        select cast(date_trunc('{grain}', close_date) as date),
            sum(case when stage_category = 'won' then deal_size_base end),
            sum(case when stage_category = 'won' then 1 else 0 end),
            count(*)
        from {schema}.deals_enhanced where close_date is not null group by 1""")
    return {
        "aggregations": {d: {"total_deal_size": s, "sized_deal_count": n}
                         for d, s, n in aggregations},
        "created": {d: {"deal_count": n} for d, n in created},
        "closed": {d: {"bookings": b, "won_deal_count": w, "closed_deal_count": c,
                       "win_rate": w / c} for d, b, w, c in closed},
    }


def as_number(text: str) -> Decimal | None:
    return Decimal(text) if text not in ("", None) else None


def assert_same(mf: Series, expected: Series, label: str) -> None:
    """Every period of the marts is in mf with the same value (and no more)."""
    metrics = sorted({metric for row in expected.values() for metric in row})
    got = {day: {m: as_number(row[m]) for m in metrics} for day, row in mf.items()
           if any(row[m] not in ("", None) for m in metrics)}
    assert set(got) == set(expected), f"{label}: periods differ"
    for day, row in expected.items():
        for metric, value in row.items():
            have = got[day][metric]
            if isinstance(value, float):
                assert have is not None and abs(float(have) - value) < 1e-9, (label, day)
            else:
                assert have == Decimal(value or 0) or (value is None and have is None), (
                    label, day, metric, have, value)


def marts_figures(fetch: Fetch, schema: str) -> dict[str, Any]:
    """Every figure the semantic layer is compared with, read before `mf`
    runs (DuckDB lets one process write a file at a time)."""
    return {
        "grains": {grain: mart_series(fetch, schema, grain) for grain in GRAINS},
        "owner_bookings": {d: {"bookings": b} for d, b in fetch(f"""
            select month_start, sum(bookings) from {schema}.owner_performance
            group by month_start having sum(won_deal_count) > 0""")},
    }


def check_against_marts(layer: SemanticLayer, figures: dict[str, Any]) -> dict[str, Series]:
    answers = {}
    for grain in GRAINS:
        expected = figures["grains"][grain]
        created = layer.query(CREATED, grain)
        closed = layer.query(CLOSED, grain)
        assert created and closed
        assert_same(created, expected["aggregations"], f"deal_aggregations {grain}")
        assert_same(created, expected["created"], f"deals created {grain}")
        assert_same(closed, expected["closed"], f"deals closed {grain}")
        answers[grain] = {**created, **{d: {**created.get(d, {}), **r} for d, r in closed.items()}}
    assert_same(layer.query(("bookings",), "month"), figures["owner_bookings"],
                "owner_performance")
    return answers


@pytest.fixture(scope="module")
def duck_answers(built: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Series]:
    _, path = built("original")
    workdir = tmp_path_factory.mktemp("metrics_duckdb")
    copy = workdir / "crm.duckdb"
    shutil.copy(path, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        figures = marts_figures(lambda sql: con.execute(sql).fetchall(), "marts")
    layer = SemanticLayer(workdir, {"DUCKDB_PATH": str(copy), "DBT_TARGET": "duckdb"})
    return check_against_marts(layer, figures)


def test_mf_query_on_duckdb_matches_the_marts(duck_answers: dict[str, Series]) -> None:
    assert set(duck_answers) == set(GRAINS)
    weeks = sorted(duck_answers["week"])
    assert all(day.isoweekday() == 1 for day in weeks)  # weeks start on Monday
    assert all(day.day == 1 for day in duck_answers["month"])


def test_mf_query_on_postgres_matches_its_marts_and_duckdb(
    sandbox: Any, duck_answers: dict[str, Series], pg_prefix: str, tmp_path: Path,
) -> None:
    extract_postgres(sandbox, f"{pg_prefix}raw", tmp_path / "pipelines")
    project: DbtProject = postgres_project(tmp_path / "dbt", pg_prefix)
    assert "Completed successfully" in project.run("build").stdout
    layer = SemanticLayer(tmp_path / "mf", project.env)
    with pg_cursor() as cur:
        def fetch(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            return cur.fetchall()

        figures = marts_figures(fetch, f"{pg_prefix}marts")
    answers = check_against_marts(layer, figures)
    for grain in GRAINS:
        assert set(answers[grain]) == set(duck_answers[grain])
        for day, row in duck_answers[grain].items():
            for metric, value in row.items():
                other = answers[grain][day][metric]
                if metric == "win_rate" and value:
                    assert abs(float(other) - float(value)) < 1e-9
                else:
                    assert as_number(other) == as_number(value), (grain, day, metric)
