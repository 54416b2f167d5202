"""Leads, tasks, appointments, sales activities and the new selector lists
(issue 13): counts against the sandbox, request budgets, incremental runs,
deletes caught by a sweep, an absent leads module, `--objects`, and paging
without `meta.total_pages`. Real sandbox over HTTP, real DuckDB files (and
one PostgreSQL case)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from extract_helpers import Api, cli_env, pg_query, query, run_cli, sandbox
from faultproxy import Rule, fault_proxy

from extract.freshsales import settings
from extract.pipeline import ExtractError

# Small: ~750 sales activities, ~375 tasks, ~125 appointments, ~75 leads.
TINY = {"accounts": 40, "contacts": 150, "deals": 250}
LISTS = {"tasks": ("open", "completed"), "appointments": ("upcoming", "past"),
         "sales_activities": (None,)}
NEW_SELECTORS = ("teams", "currencies", "deal_reasons", "deal_types", "sales_activity_types",
                 "sales_activity_outcomes", "task_types", "lead_stages")


class ListApi(Api):
    """The lists without views, read as a user of the CRM would."""

    def list_page(self, entity: str, flt: str | None, page: int, per_page: int = 100) -> Any:
        params: dict[str, Any] = {"page": page, "per_page": per_page, "sort": "updated_at",
                                  "sort_type": "desc"}
        if flt:
            params["filter"] = flt
        return self.get(entity, **params)

    def total(self, entity: str, flt: str | None) -> int:
        return int(self.list_page(entity, flt, 1, 1)["meta"]["total"])

    def records(self, entity: str) -> dict[int, dict[str, Any]]:
        """Every record the CRM lists now, across the filters that partition it."""
        found: dict[int, dict[str, Any]] = {}
        for flt in LISTS[entity]:
            page = 1
            while rows := self.list_page(entity, flt, page)[entity]:
                found.update((row["id"], row) for row in rows)
                page += 1
        return found


def _stamps(api: ListApi, entity: str) -> dict[int, datetime]:
    return {i: datetime.fromisoformat(r["updated_at"]).astimezone(UTC)
            for i, r in api.records(entity).items()}


def _raw(db: Path, table: str) -> dict[int, tuple[datetime, bool]]:
    rows = query(db, f"select id, updated_at, is_deleted from raw.{table}")
    return {i: (stamp.astimezone(UTC), deleted) for i, stamp, deleted in rows}


def _live(db: Path, table: str) -> dict[int, datetime]:
    return {i: stamp for i, (stamp, deleted) in _raw(db, table).items() if not deleted}


def _budget(api: ListApi, entity: str, flt: str | None) -> int:
    """List requests of a full read of one filter: one per 100 records; without
    meta.total_pages (appointments) a last page that is full is followed by the
    empty page that ends the list."""
    total = api.total(entity, flt)
    extra = 1 if entity == "appointments" and total % 100 == 0 else 0
    return max(1, math.ceil(total / 100) + extra)


def _view_key(entity: str, flt: str | None) -> str:
    return f"{entity}/{flt or 'all'}"


def test_every_new_object_lands_in_raw_within_the_request_budget(run_duckdb, db_path):
    with sandbox(**TINY) as sb:
        api = ListApi(sb)
        summary = run_duckdb(sb)
        for entity, filters in LISTS.items():
            assert summary["raw_counts"][entity] == len(api.records(entity)), entity
            for flt in filters:
                key = _view_key(entity, flt)
                assert summary["list_requests"][key] == _budget(api, entity, flt), key
                assert summary["scan_mode"][key] == "full"
            assert summary["lists"][entity]["read"] == "swept"
        leads = sum(api.view_total("leads", v) for v in ("All Leads", "Recycle Bin"))
        assert summary["raw_counts"]["leads"] == leads > 0
        for view in ("All Leads", "Recycle Bin"):
            budget = max(1, math.ceil(api.view_total("leads", view) / 100))
            assert summary["list_requests"][f"leads/{view}"] == budget
        for selector in NEW_SELECTORS:
            key = settings.SELECTORS[selector][1]
            assert summary["raw_counts"][selector] == len(api.get(f"selector/{selector}")[key])
        teams = {u["id"]: u["team_id"] for u in api.get("selector/owners")["users"]}
        assert dict(query(db_path, "select id, team_id from raw.owners")) == teams
        task = next(iter(api.records("tasks").values()))
        row = query(db_path, "select title, due_date, targetable_id, is_deleted from raw.tasks "
                             f"where id = {task['id']}")[0]
        assert row == (task["title"], datetime.fromisoformat(task["due_date"]),
                       task["targetable_id"], False)
        rates = dict(query(db_path, "select currency_code, exchange_rate from raw.currencies"))
        assert rates == {c["currency_code"]: Decimal(c["exchange_rate"])
                         for c in api.get("selector/currencies")["currencies"]}


def test_a_sync_without_changes_reads_one_page_per_filter_and_view(run_duckdb, db_path):
    with sandbox(**TINY) as sb:
        run_duckdb(sb)
        before = {t: _raw(db_path, t) for t in (*LISTS, "leads")}
        summary = run_duckdb(sb)
        new = [_view_key(e, f) for e, fs in LISTS.items() for f in fs]
        new += ["leads/All Leads", "leads/Recycle Bin"]
        assert {k: summary["list_requests"][k] for k in new} == dict.fromkeys(new, 1)
        for entity in LISTS:
            assert summary["lists"][entity] == {"read": "incremental", "list_requests":
                                                len(LISTS[entity]), "sweep_complete": False,
                                                "marked_deleted": 0}
            assert summary["rows_loaded"].get(entity, 0) == 0
        assert {t: _raw(db_path, t) for t in before} == before


def test_changes_are_read_incrementally_and_raw_converges(run_duckdb, db_path):
    with sandbox(**TINY) as sb:
        api = ListApi(sb)
        run_duckdb(sb)
        changed = {e: api.mutate(entity=e, count=n)["ids"]
                   for e, n in (("tasks", 130), ("appointments", 7), ("sales_activities", 40),
                                ("leads", 5))}
        summary = run_duckdb(sb)
        for entity in LISTS:
            assert summary["lists"][entity]["read"] == "incremental"
            assert summary["rows_loaded"][entity] == len(changed[entity]), entity
            for flt in LISTS[entity]:
                moved = len(changed[entity])
                assert summary["list_requests"][_view_key(entity, flt)] <= \
                    math.ceil(moved / 100) + 1
            assert _live(db_path, entity) == _stamps(api, entity), entity
        assert summary["rows_loaded"]["leads"] == 5


def test_a_delete_is_caught_by_the_next_sweep_not_by_an_incremental_run(run_duckdb, db_path):
    with sandbox(**TINY) as sb:
        api = ListApi(sb)
        run_duckdb(sb)
        gone = {e: api.mutate(entity=e, count=3, delete=True)["ids"] for e in LISTS}
        quiet = run_duckdb(sb)
        for entity, ids in gone.items():
            assert quiet["lists"][entity]["read"] == "incremental"
            assert all(_raw(db_path, entity)[i][1] is False for i in ids), entity
        swept = run_duckdb(sb, full_sweep=True)
        for entity, ids in gone.items():
            report = swept["lists"][entity]
            assert report["read"] == "swept" and report["sweep_complete"], report
            assert report["marked_deleted"] == 3
            assert report["list_requests"] == sum(_budget(api, entity, f) for f in LISTS[entity])
            assert {i for i, (_, d) in _raw(db_path, entity).items() if d} == set(ids)
            assert _live(db_path, entity) == _stamps(api, entity)
            kept = query(db_path, f"select count(*) from raw.{entity} where id in "
                                  f"({', '.join(map(str, ids))}) and created_at is not null")
            assert kept == [(3,)]  # the last version is kept, marked deleted
        again = run_duckdb(sb, full_sweep=True)
        assert all(again["lists"][e]["marked_deleted"] == 0 for e in LISTS)


def test_the_sweep_interval_comes_from_dlt_config(run_duckdb, db_path, monkeypatch):
    monkeypatch.setenv("SOURCES__FRESHSALES__SWEEP_INTERVAL_HOURS", "0")
    with sandbox(**TINY) as sb:
        api = ListApi(sb)
        run_duckdb(sb)
        gone = api.mutate(entity="tasks", count=2, delete=True)["ids"]
        summary = run_duckdb(sb)
        assert summary["scan_mode"]["tasks/open"] == "sweep"
        assert summary["lists"]["tasks"]["marked_deleted"] == 2
        assert {i for i, (_, d) in _raw(db_path, "tasks").items() if d} == set(gone)


def test_a_sweep_that_fails_midway_marks_nothing(run_duckdb, db_path):
    with sandbox(**TINY) as sb, fault_proxy(sb.base_url) as proxy:
        api = ListApi(sb)
        run_duckdb(sb, base_url=proxy.base_url)
        gone = api.mutate(entity="tasks", count=4, delete=True)["ids"]
        proxy.add_rule(Rule(r"/api/tasks$", params={"filter": "completed", "page": "2"},
                            status=200, body={"errors": {"code": 500, "message": ["boom"]}}))
        with pytest.raises(ExtractError, match=r"^tasks view 'completed': page 2: the answer "
                           r"carries errors: .*\(3 attempts\); the view's cursor did not move$"):
            run_duckdb(sb, base_url=proxy.base_url, full_sweep=True)
        assert not any(d for _, d in _raw(db_path, "tasks").values())
        proxy.clear_rules()
        summary = run_duckdb(sb, base_url=proxy.base_url, full_sweep=True)
        assert summary["lists"]["tasks"]["marked_deleted"] == 4
        assert {i for i, (_, d) in _raw(db_path, "tasks").items() if d} == set(gone)


def test_a_tenant_without_leads_is_a_note_and_exit_0(tmp_path):
    with sandbox(**TINY, leads_module=False) as sb:
        env = cli_env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key)
        done = run_cli(tmp_path, "--summary", str(tmp_path / "s.json"), env=env)
    assert done.returncode == 0, done.stderr
    assert ("note: leads: skipped, the CRM has no leads module (leads/filters answered 404)"
            in done.stderr.splitlines())
    assert "leads: skipped, the CRM has no leads module" in done.stdout
    db = tmp_path / "cli.duckdb"
    assert query(db, "select count(*) from raw.leads") == [(0,)]
    assert query(db, "select count(*) from raw.tasks")[0][0] > 0


def test_objects_selects_what_is_read(tmp_path):
    with sandbox(**TINY) as sb, fault_proxy(sb.base_url) as proxy:
        env = cli_env(tmp_path, CRM_BASE_URL=proxy.base_url, CRM_API_TOKEN=sb.api_key)
        done = run_cli(tmp_path, "--objects", "tasks,appointments,teams", env=env)
        assert done.returncode == 0, done.stderr
        paths = {path.split("/api/", 1)[1] for _, path, _ in proxy.requests}
        assert paths == {"tasks", "appointments", "selector/teams"}
        db = tmp_path / "cli.duckdb"
        tables = {t for (t,) in query(db, "select table_name from information_schema.tables "
                                          "where table_schema = 'raw' and table_name "
                                          "not like '_dlt%'")}
        assert tables == {"tasks", "appointments", "teams"}
        env["SOURCES__FRESHSALES__OBJECTS"] = "sales_activities"
        done = run_cli(tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert query(db, "select count(*) from raw.sales_activities")[0][0] > 0
        assert "deals" not in {t for (t,) in query(
            db, "select table_name from information_schema.tables where table_schema = 'raw'")}
        bad = run_cli(tmp_path, "--objects", "tasks,calls", env=env)
        assert bad.returncode == 2
        assert bad.stderr.splitlines() == [
            "error: argument --objects: unknown object(s) 'calls'; known: "
            + ", ".join(settings.OBJECTS) + " (see `python -m extract run --help`)"]
        env["SOURCES__FRESHSALES__OBJECTS"] = "meetings"
        bad = run_cli(tmp_path, env=env)
        assert bad.returncode == 2
        assert bad.stderr.startswith("error: sources.freshsales.objects: unknown object(s) "
                                     "'meetings'; known: ")
        assert len(bad.stderr.splitlines()) == 1


def test_appointments_without_total_pages_end_on_the_empty_page(run_duckdb, db_path):
    """Pages of exactly meta.total / k records: the last page is full, and only the
    empty page after it ends the list."""
    with sandbox(**TINY) as sb, fault_proxy(sb.base_url) as proxy:
        api = ListApi(sb)
        past = api.total("appointments", "past")
        size = next(n for n in range(25, 0, -1) if past % n == 0)
        summary = run_duckdb(sb, base_url=proxy.base_url, source_options={"per_page": size},
                             objects=["appointments"])
        assert summary["list_requests"]["appointments/past"] == past // size + 1
        empty = {q["page"] for _, path, q in proxy.requests
                 if path.endswith("/appointments") and q.get("filter") == "past"}
        assert str(past // size + 1) in empty
        assert summary["raw_counts"]["appointments"] == len(api.records("appointments"))


def test_a_short_appointments_page_in_the_middle_fails_loudly(run_duckdb, db_path):
    """Without meta.total_pages a short page 1 may be the CRM's page size (it is
    asked again at that size); a short page after it is a bad answer."""
    with sandbox(**TINY) as sb, fault_proxy(sb.base_url) as proxy:
        api = ListApi(sb)
        assert api.total("appointments", "past") > 80
        proxy.add_rule(Rule(r"/api/appointments$", params={"filter": "past", "page": "2"},
                            truncate=("appointments", 30)))
        with pytest.raises(ExtractError, match=r"^appointments view 'past': page 2: page 2 has "
                           r"30 records where 40 were expected .*\(3 attempts\)"):
            run_duckdb(sb, base_url=proxy.base_url, source_options={"per_page": 40},
                       objects=["appointments"])
        proxy.clear_rules()
        summary = run_duckdb(sb, base_url=proxy.base_url, objects=["appointments"])
        assert summary["raw_counts"]["appointments"] == len(api.records("appointments"))


def test_new_objects_on_postgres(pg, tmp_path):
    from extract.pipeline import run_extract

    settings_, dataset = pg
    with sandbox(**TINY) as sb:
        api = ListApi(sb)
        options: dict[str, Any] = dict(
            destination="postgres", base_url=sb.base_url, api_key=sb.api_key,
            dataset=dataset, pg_credentials=settings_, pipelines_dir=tmp_path / "pipelines")
        run_extract(**options)
        gone = api.mutate(entity="appointments", count=2, delete=True)["ids"]
        api.mutate(entity="sales_activities", count=9)
        summary = run_extract(**options, full_sweep=True)
        assert summary["lists"]["appointments"]["marked_deleted"] == 2
        for entity in LISTS:
            rows = pg_query(settings_, f'select id, updated_at, is_deleted from "{dataset}".'
                                       f"{entity}")
            live = {i: s.astimezone(UTC) for i, s, d in rows if not d}
            assert live == _stamps(api, entity), entity
        deleted = pg_query(settings_, f'select id from "{dataset}".appointments '
                                      "where is_deleted")
        assert {i for (i,) in deleted} == set(gone)
        assert pg_query(settings_, f'select count(*) from "{dataset}".leads')[0][0] == sum(
            api.view_total("leads", v) for v in ("All Leads", "Recycle Bin"))


def test_a_plain_dlt_pipeline_selects_with_with_resources_and_sweeps(tmp_path):
    import dlt

    from extract.freshsales import freshsales_source

    with sandbox(**TINY) as sb, fault_proxy(sb.base_url) as proxy:
        api = ListApi(sb)
        db = tmp_path / "plain.duckdb"
        pipeline = dlt.pipeline(pipeline_name="plain", dataset_name="raw",
                                destination=dlt.destinations.duckdb(str(db)),
                                pipelines_dir=str(tmp_path / "pipelines"))
        source = freshsales_source(base_url=proxy.base_url, api_key=sb.api_key)
        pipeline.run(source.with_resources("tasks"))
        assert {path.split("/api/", 1)[1] for _, path, _ in proxy.requests} == {"tasks"}
        gone = api.mutate(entity="tasks", count=2, delete=True)["ids"]
        pipeline.run(freshsales_source(base_url=proxy.base_url, api_key=sb.api_key,
                                       full_sweep=True).with_resources("tasks"))
        assert {i for i, (_, d) in _raw(db, "tasks").items() if d} == set(gone)
        assert _live(db, "tasks") == _stamps(api, "tasks")


def test_a_sweep_on_parquet_marks_the_latest_versions_deleted_once(tmp_path):
    """The filesystem destination appends versions: the sweep compares the
    latest version of each id, so a task deleted in the CRM gets one new
    version marked deleted, and a second sweep marks nothing again."""
    import duckdb

    from extract.pipeline import run_extract

    out = tmp_path / "raw_parquet"
    with sandbox(**TINY) as sb:
        api = ListApi(sb)
        options: dict[str, Any] = dict(destination="filesystem", base_url=sb.base_url,
                                       api_key=sb.api_key, bucket_url=str(out),
                                       pipelines_dir=tmp_path / "pipelines")
        run_extract(**options)
        gone = api.mutate(entity="tasks", count=3, delete=True)["ids"]
        first = run_extract(**options, full_sweep=True)
        second = run_extract(**options, full_sweep=True)
        live = _stamps(api, "tasks")
    assert first["lists"]["tasks"]["marked_deleted"] == 3
    assert second["lists"]["tasks"]["marked_deleted"] == 0
    files = str(out / "raw" / "tasks" / "*.parquet")
    with duckdb.connect() as con:
        latest = con.execute(f"""select id, updated_at, is_deleted from (
            select *, row_number() over (partition by id order by _extracted_at desc) as n
            from read_parquet('{files}', union_by_name = true)) where n = 1""").fetchall()
        deleted_versions = con.execute(f"""select count(*) from read_parquet('{files}',
            union_by_name = true) where is_deleted""").fetchone()
    assert {i for i, _, d in latest if d} == set(gone)
    assert {i: s.astimezone(UTC) for i, s, d in latest if not d} == live
    assert deleted_versions == (3,)
