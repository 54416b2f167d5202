"""Nothing lost, ever: the extractor against a CRM that misbehaves.

Each test either sees the run fail with one clear message (and a later normal
run bring raw back to the CRM), or sees raw equal to the CRM. The CRM is the
sandbox over HTTP, behind a fault-injecting proxy (tests/extract/faultproxy.py)
where the sandbox cannot misbehave that way; raw is a real DuckDB file or a
schema of the real PostgreSQL.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from extract_helpers import Api, cli_env, pg_query, query, run_cli, sandbox
from faultproxy import Rule, fault_proxy

from extract.config import PgSettings
from extract.freshsales import freshsales_source
from extract.pipeline import ExtractError, run_extract
from extract.sandbox.catalog import ID_BASE

ENTITIES = ("sales_accounts", "contacts", "deals")
DEALS_PAGE = r"/deals/view/\d+$"
DEAL_ID_BASE = ID_BASE["deals"]
ERROR_BODY = {"errors": {"code": 500, "message": ["Something went wrong"]}}
# The budget tests page through deals: a tenant without the activity modules
# and leads keeps them about deals (and their runs few).
DEALS_ONLY = dict(activities_per_deal=0, tasks_per_deal=0, appointments_per_deal=0, leads=0)
# The objects read before issue 13: 9 requests before the first page.
ORIGINAL = ["sales_accounts", "contacts", "deals", "owners", "deal_stages", "deal_pipelines",
            "territories", "industry_types", "lead_sources"]


@dataclass
class Raw:
    """One destination of a test: run the extractor into it, read it, reset it."""

    kind: str
    tmp: Path
    pg: tuple[PgSettings, str] | None = None

    @property
    def db(self) -> Path:
        return self.tmp / "crm.duckdb"

    def run(self, base_url: str, api_key: str, **kwargs: Any) -> dict[str, Any]:
        where: dict[str, Any] = dict(duckdb_path=self.db)
        if self.pg is not None:
            where = dict(dataset=self.pg[1], pg_credentials=self.pg[0])
        return run_extract(destination=self.kind, base_url=base_url, api_key=api_key,
                           pipelines_dir=self.tmp / "pipelines", **where, **kwargs)

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        if self.pg is None:
            return query(self.db, sql.replace("{raw}", "raw"))
        return pg_query(self.pg[0], sql.replace("{raw}", f'"{self.pg[1]}"'))

    def state(self, table: str) -> dict[int, tuple[datetime, bool]]:
        rows = self.sql(f"select id, updated_at, is_deleted from {{raw}}.{table}")
        return {i: (stamp.astimezone(UTC), bool(deleted)) for i, stamp, deleted in rows}

    def reset(self) -> None:
        """What a user does: delete the DuckDB file, or drop the raw schema."""
        if self.pg is None:
            self.db.unlink()
            return
        self.sql_exec(f'drop schema "{self.pg[1]}" cascade')

    def sql_exec(self, sql: str) -> None:
        if self.pg is None:
            import duckdb

            with duckdb.connect(str(self.db)) as con:
                con.execute(sql.replace("{raw}", "raw"))
            return
        import psycopg2

        settings = self.pg[0]
        conn = psycopg2.connect(host=settings.host, port=settings.port, user=settings.user,
                                password=settings.password or None, dbname=settings.database)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.replace("{raw}", f'"{self.pg[1]}"'))
        conn.close()


@pytest.fixture(params=["duckdb", "postgres"])
def raw(request: pytest.FixtureRequest, tmp_path: Path) -> Raw:
    if request.param == "postgres":
        return Raw("postgres", tmp_path, request.getfixturevalue("pg"))
    return Raw("duckdb", tmp_path)


class PatientApi(Api):
    """The tests' own reads of a rate-limited CRM wait for its window like a user."""

    def get(self, path: str, **params: Any) -> Any:
        import time

        while True:
            response = self.session.get(f"{self.base}/{path}", params=params, timeout=30)
            if response.status_code != 429:
                response.raise_for_status()
                return response.json()
            time.sleep(float(response.headers.get("x-ratelimit-reset", "1")) + 0.01)


def _next_window(length_s: float) -> None:
    """Sleep into the next rate-limit window (the sandbox aligns them to the epoch)."""
    import time

    time.sleep(length_s - time.time() % length_s + 0.05)


def crm_state(api: Api, entity: str) -> dict[int, tuple[datetime, bool]]:
    return {i: (datetime.fromisoformat(r["updated_at"]).astimezone(UTC), bool(r["is_deleted"]))
            for i, r in api.all_records(entity).items()}


def assert_raw_is_crm(raw: Raw, api: Api) -> None:
    for entity in ENTITIES:
        assert raw.state(entity) == crm_state(api, entity), entity


# ---------------------------------------------------------------- the destination is the truth


def test_a_reset_destination_is_synced_in_full(raw):
    with sandbox() as sb:
        api = Api(sb)
        raw.run(sb.base_url, sb.api_key)
        raw.reset()
        notes: list[str] = []
        summary = raw.run(sb.base_url, sb.api_key, notify=notes.append)
        assert set(summary["scan_mode"].values()) == {"full"}
        assert len(notes) == 1 and "was reset" in notes[0] and "syncing in full" in notes[0]
        assert_raw_is_crm(raw, api)
        again = raw.run(sb.base_url, sb.api_key)
        assert all(n == 1 for n in again["list_requests"].values()), again["list_requests"]
        assert all(again["rows_loaded"].get(e, 0) == 0 for e in ENTITIES)
        assert again["notes"] == []


def test_a_dropped_raw_table_is_synced_in_full(raw):
    with sandbox() as sb:
        api = Api(sb)
        raw.run(sb.base_url, sb.api_key)
        raw.sql_exec("drop table {raw}.deals")
        summary = raw.run(sb.base_url, sb.api_key)
        assert any(".deals missing or empty" in note for note in summary["notes"])
        assert summary["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]
        assert_raw_is_crm(raw, api)


def test_a_removed_parquet_folder_is_synced_in_full(tmp_path):
    out = tmp_path / "raw_parquet"
    with sandbox() as sb:
        options = dict(destination="filesystem", base_url=sb.base_url, api_key=sb.api_key,
                       bucket_url=out, pipelines_dir=tmp_path / "pipelines")
        run_extract(**options)
        shutil.rmtree(out)
        summary = run_extract(**options)
        assert set(summary["scan_mode"].values()) == {"full"}
        for entity in ENTITIES:
            assert summary["raw_counts"][entity] == sb.state.gen.sizes[entity], entity


# ---------------------------------------------------------------- a view ends only on evidence

FAULTS: dict[str, dict[str, Any]] = {
    "errors body": dict(status=200, body=ERROR_BODY),
    "empty object": dict(status=200, body={}),
    "no meta": dict(drop_key="meta"),
    "short page": dict(truncate=("deals", 40)),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_bad_page_fails_the_view_and_the_next_run_converges(raw, fault):
    with sandbox() as sb, fault_proxy(sb.base_url) as proxy:
        api = Api(sb)
        proxy.add_rule(Rule(DEALS_PAGE, params={"page": "3"}, **FAULTS[fault]))
        with pytest.raises(ExtractError, match=r"deals view 'All Deals': page 3: .*"
                           r"\(3 attempts\); the view's cursor did not move") as failed:
            raw.run(proxy.base_url, sb.api_key)
        assert "\n" not in str(failed.value)
        assert proxy.count(DEALS_PAGE) >= 3
        assert len(raw.state("deals")) < sb.state.gen.sizes["deals"]
        proxy.clear_rules()
        raw.run(proxy.base_url, sb.api_key)
        assert_raw_is_crm(raw, api)


def test_a_bad_answer_once_is_fetched_again(raw):
    with sandbox() as sb, fault_proxy(sb.base_url) as proxy:
        api = Api(sb)
        proxy.add_rule(Rule(DEALS_PAGE, params={"page": "2"}, times=1, drop_key="meta"))
        summary = raw.run(proxy.base_url, sb.api_key)
        assert summary["malformed_retries"] == 1
        assert_raw_is_crm(raw, api)


def test_a_page_size_above_the_maximum_is_clamped_not_lost(raw, monkeypatch):
    monkeypatch.setenv("SOURCES__FRESHSALES__PER_PAGE", "200")
    with sandbox() as sb:
        api = Api(sb)
        summary = raw.run(sb.base_url, sb.api_key)
        assert summary["notes"] == [
            "per_page 200 is above the CRM's maximum of 100; using 100"]
        assert_raw_is_crm(raw, api)


def test_a_crm_serving_smaller_pages_than_asked_is_read_whole(raw):
    """The page size served is read from the answer (meta.total_pages)."""
    with sandbox(max_per_page=40) as sb:
        api = Api(sb)
        summary = raw.run(sb.base_url, sb.api_key)
        pages = -(-api.view_total("deals", "All Deals") // 40)
        assert summary["list_requests"]["deals/All Deals"] == pages
        assert summary["malformed_retries"] == 0
        assert_raw_is_crm(raw, api)


# ---------------------------------------------------------------- the cursor never passes the start


def test_a_record_stamped_in_the_future_does_not_hide_later_edits(raw):
    with sandbox() as sb, fault_proxy(sb.base_url) as proxy:
        api = Api(sb)
        proxy.add_rule(Rule(DEALS_PAGE, params={"page": "1"}, times=1,
                            set_field=("deals", "updated_at", "2099-01-01T00:00:00Z")))
        raw.run(proxy.base_url, sb.api_key)
        future = [i for i, (stamp, _) in raw.state("deals").items() if stamp.year == 2099]
        assert len(future) == 100
        edited = api.mutate(entity="deals", count=7)["ids"]
        raw.run(proxy.base_url, sb.api_key)
        crm = crm_state(api, "deals")
        loaded = raw.state("deals")
        assert {i: loaded[i] for i in edited} == {i: crm[i] for i in edited}


# ---------------------------------------------------------------- no poison packages


def test_nul_bytes_are_cleaned_counted_and_never_block_a_load(raw):
    with sandbox() as sb, fault_proxy(sb.base_url) as proxy:
        api = Api(sb)
        proxy.add_rule(Rule(DEALS_PAGE, params={"page": "1"}, times=1,
                            set_field=("deals", "name", "Acme\x00 Corp")))
        summary = raw.run(proxy.base_url, sb.api_key)
        assert summary["nul_cleaned"] == 100
        names = raw.sql("select count(*) from {raw}.deals where name = 'Acme Corp'")
        assert names == [(100,)]
        api.mutate(entity="deals", count=3)
        after = raw.run(proxy.base_url, sb.api_key)
        assert after["pending_packages_finished"] == 0
        assert after["rows_loaded"]["deals"] == 3


def test_a_selector_error_body_is_an_error_never_a_row(raw):
    with sandbox() as sb, fault_proxy(sb.base_url) as proxy:
        raw.run(proxy.base_url, sb.api_key)
        owners = raw.sql("select id, display_name from {raw}.owners order by id")
        assert owners
        proxy.add_rule(Rule(r"/selector/owners$", status=200, body=ERROR_BODY))
        with pytest.raises(ExtractError, match=r"^selector/owners: the CRM answered "
                           r"selector/owners without a list of objects: \{\"errors\""):
            raw.run(proxy.base_url, sb.api_key)
        assert raw.sql("select id, display_name from {raw}.owners order by id") == owners
        proxy.clear_rules()
        summary = raw.run(proxy.base_url, sb.api_key)
        assert summary["errors"] == []
        assert raw.sql("select id, display_name from {raw}.owners order by id") == owners


def _not_parquet(job: Path) -> None:
    job.write_bytes(b"PAR1 this is not a parquet file")


def _id_not_a_number(job: Path) -> None:
    """A valid file whose `id` the raw table's bigint cannot hold: the insert
    fails while it runs, which aborts the load's transaction."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(job)
    at = table.column_names.index("id")
    table = table.set_column(at, "id", pa.array(["not-a-number"] * table.num_rows))
    pq.write_table(table, job)


@pytest.mark.parametrize(("spoil", "cause"), [
    (_not_parquet, "No magic bytes found"),
    (_id_not_a_number, "Conversion Error"),
])
def test_a_package_that_cannot_load_is_moved_aside_and_its_pages_read_again(
        tmp_path, spoil, cause):
    db = tmp_path / "cli.duckdb"
    with sandbox() as sb:
        api = Api(sb)
        env = cli_env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key,
                      CRM_EXTRACT_TEST_KILL_AT="normalized")
        killed = run_cli(tmp_path, env=env)
        assert killed.returncode == -9, killed.stderr
        jobs = list((tmp_path / "pipelines").glob("*/load/normalized/*/new_jobs/deals.*.parquet"))
        assert jobs
        for job in jobs:
            spoil(job)
        notes: list[str] = []
        summary = run_extract(destination="duckdb", base_url=sb.base_url, api_key=sb.api_key,
                              duckdb_path=db, pipelines_dir=tmp_path / "pipelines",
                              notify=notes.append)
        assert len(notes) == 1
        assert "a load package left by an earlier run failed to load" in notes[0]
        assert cause in notes[0]  # the file's fault, not what came after it
        moved = next((tmp_path / "pipelines" / "quarantine").glob("*/*"))
        assert str(moved) in notes[0]
        assert list(moved.rglob("deals.*.parquet"))
        assert summary["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]
        rows = query(db, "select id, updated_at, is_deleted from raw.deals")
        assert {i: (u.astimezone(UTC), d) for i, u, d in rows} == crm_state(api, "deals")


# ---------------------------------------------------------------- empty is valid


def test_an_empty_crm_gives_empty_raw_tables_with_their_columns(raw):
    from extract.freshsales import settings

    with sandbox(accounts=0, contacts=0, deals=0) as sb:
        for _ in range(2):
            summary = raw.run(sb.base_url, sb.api_key)
            assert summary["errors"] == []
        for entity in ENTITIES:
            assert raw.sql(f"select count(*) from {{raw}}.{entity}") == [(0,)]
            schema = "raw" if raw.pg is None else raw.pg[1]
            columns = {name for (name,) in raw.sql(
                "select column_name from information_schema.columns where "
                f"table_schema = '{schema}' and table_name = '{entity}'")}
            assert set(settings.ENTITY_COLUMNS[entity]) <= columns, entity


# ---------------------------------------------------------------- library use fails loudly


def test_a_plain_dlt_pipeline_raises_when_a_view_fails(tmp_path):
    with sandbox() as sb, fault_proxy(sb.base_url) as proxy:
        proxy.add_rule(Rule(DEALS_PAGE, params={"page": "2"}, status=200, body={}))
        pipeline = dlt.pipeline(
            pipeline_name="plain", destination=dlt.destinations.duckdb(str(tmp_path / "p.db")),
            dataset_name="raw", pipelines_dir=str(tmp_path / "pipelines"))
        with pytest.raises(PipelineStepFailed) as failed:
            pipeline.run(freshsales_source(base_url=proxy.base_url, api_key=sb.api_key))
        assert "deals view 'All Deals': page 2: the answer has no 'deals' list" in str(
            failed.value)
        assert "nothing of this run was loaded" in str(failed.value)
        tables = query(tmp_path / "p.db", "select table_name from information_schema.tables "
                                          "where table_schema = 'raw'")
        assert ("deals",) not in tables
        proxy.clear_rules()
        pipeline.run(freshsales_source(base_url=proxy.base_url, api_key=sb.api_key))
        assert query(tmp_path / "p.db", "select count(*) from raw.deals") == [
            (sb.state.gen.sizes["deals"],)]


# ---------------------------------------------------------------- budgets, pacing, reachability


def _until_complete(run: Callable[[], dict[str, Any]], between: Callable[[int], None],
                    limit: int = 12) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run until a run completes; return the partial runs' summaries and the last."""
    from extract.pipeline import BudgetStopped

    stopped: list[dict[str, Any]] = []
    for attempt in range(limit):
        try:
            return stopped, run()
        except BudgetStopped as exc:
            assert exc.summary is not None
            stopped.append(exc.summary)
            between(attempt)
    raise AssertionError(f"no complete run after {limit} runs")


def test_a_first_sync_larger_than_the_budget_completes_over_runs(tmp_path):
    """20,000 deals, a budget per window of about a third of a full sync: each run
    stops on the budget (and says how far it got); the next continues where it
    stopped. Between runs deals are edited (they move to the front) and deleted
    (later deals shift up): nothing is skipped, raw ends equal to the CRM."""
    raw = Raw("duckdb", tmp_path)
    window = 3.0
    with sandbox(deals=20_000, rate_limit=75, rate_window_s=window, **DEALS_ONLY) as sb:
        api = PatientApi(sb)
        deal_pages = -(-api.view_total("deals", "All Deals") // 100)
        assert deal_pages == 200
        newest_first = sorted(range(20_000), reverse=True)
        read_ids = iter(DEAL_ID_BASE + i for i in newest_first)

        def between(attempt: int) -> None:
            sb.state.mutate("deals", count=25)  # least recently updated: the unread tail
            gone = [next(read_ids) for _ in range(15)]  # on pages read already
            sb.state.mutate("deals", ids=gone, delete=True)
            _next_window(window)

        _next_window(window)
        stopped, final = _until_complete(
            lambda: raw.run(sb.base_url, sb.api_key, max_wait_s=0.2), between)
        assert len(stopped) >= 2
        first = stopped[0]["stopped_on_budget"]["deals/All Deals"]
        second = stopped[1]["stopped_on_budget"]["deals/All Deals"]
        assert 0 < first["page"] < second["page"] < 200 == first["of_pages"]
        assert stopped[1]["scan_mode"]["deals/All Deals"] == "resumed"
        deal_requests = sum(s["list_requests"].get("deals/All Deals", 0)
                            for s in [*stopped, final])
        assert deal_requests < deal_pages * 1.25, deal_requests
        assert_raw_is_crm(raw, api)


def test_the_cli_exits_75_with_one_line_when_the_budget_is_spent(tmp_path):
    # 18 requests before the first page (4 view lists, 14 selector lists), 7 for
    # the empty leads and activity lists: the budget ends within the entities
    with sandbox(deals=3000, rate_limit=40, rate_window_s=600.0, **DEALS_ONLY) as sb:
        env = cli_env(tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key)
        done = run_cli(tmp_path, "--max-wait", "5", env=env)
    assert done.returncode == 75, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert re.match(r"error: stopped on the CRM's request budget after 4\d requests; ",
                    lines[0])
    assert re.search(r"; \d+ of \d+ pages of (contacts|deals|sales_accounts) read; ", lines[0])
    assert re.search(r"; the next run continues \(budget resets in \d+ (s|min)\)$",
                     lines[0])
    assert sb.api_key not in done.stderr


def test_a_budget_stop_resumes_on_postgres_too(pg, tmp_path):
    raw = Raw("postgres", tmp_path, pg)
    # A window long enough that one run never reaches the next one, even on a
    # loaded machine: each run stops on the budget instead of getting a fresh one.
    window_s = 4.0
    with sandbox(deals=2500, rate_limit=30, rate_window_s=window_s, **DEALS_ONLY) as sb:
        newest_first = iter(DEAL_ID_BASE + i for i in range(2499, -1, -1))

        def between(attempt: int) -> None:
            sb.state.mutate("deals", count=5)
            sb.state.mutate("deals", ids=[next(newest_first) for _ in range(3)], delete=True)
            _next_window(window_s)

        _next_window(window_s)
        stopped, final = _until_complete(
            lambda: raw.run(sb.base_url, sb.api_key, max_wait_s=0.0, objects=ORIGINAL),
            between, limit=20)
        assert stopped
        assert "resumed" in final["scan_mode"].values()
        assert_raw_is_crm(raw, PatientApi(sb))


def test_two_requests_a_second_finishes_slowly_instead_of_failing(tmp_path):
    raw = Raw("duckdb", tmp_path)
    with sandbox(rate_limit=2, accounts=20, contacts=50, deals=150) as sb:
        api = PatientApi(sb)
        summary = raw.run(sb.base_url, sb.api_key)
        assert summary["errors"] == []
        assert summary["rate_limit_wait_s"] > 0
        assert_raw_is_crm(raw, api)


def test_an_unreachable_crm_is_one_line_naming_the_connect_timeout(tmp_path):
    """A host that never completes the connection: one line after the connect
    timeout, not after the read timeout and every retry."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(4):  # fill the accept queue: later SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        env = cli_env(tmp_path, CRM_BASE_URL=f"http://127.0.0.1:{port}/crm/sales",
                      CRM_API_TOKEN="secret-token")
        done = run_cli(tmp_path, env=env, timeout=60)
        for filler in fillers:
            filler.close()
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: cannot reach the CRM at http://127.0.0.1:{port}/crm/sales (connection timed "
        "out); check CRM_BASE_URL and the network"]


def test_a_budget_spent_before_any_view_is_read_is_a_budget_stop(tmp_path):
    from extract.pipeline import BudgetStopped

    raw = Raw("duckdb", tmp_path)
    with sandbox(rate_limit=2, rate_window_s=600.0) as sb:
        with pytest.raises(BudgetStopped, match=r"^stopped on the CRM's request budget after "
                           r"\d requests; no view read yet; the next run continues"):
            raw.run(sb.base_url, sb.api_key, max_wait_s=1.0)


def test_databases_sharing_a_pipeline_folder_never_get_each_others_packages(tmp_path):
    """The readable pipeline name is per destination kind and dataset: a package a
    killed run left for one DuckDB file is never loaded into another one."""
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    with sandbox() as sb:
        api = Api(sb)
        killed = run_cli(tmp_path, env=cli_env(
            tmp_path, CRM_BASE_URL=sb.base_url, CRM_API_TOKEN=sb.api_key,
            DUCKDB_PATH=str(first), CRM_EXTRACT_TEST_KILL_AT="normalized"))
        assert killed.returncode == -9, killed.stderr
        notes: list[str] = []
        other = run_extract(destination="duckdb", base_url=sb.base_url, api_key=sb.api_key,
                            duckdb_path=second, pipelines_dir=tmp_path / "pipelines",
                            notify=notes.append)
        assert len(notes) == 1 and f"left by an interrupted run into {first}" in notes[0]
        assert "was reset" not in notes[0]
        assert other["pipeline_name"] == "freshsales_duckdb_raw"
        rows = query(second, "select id, updated_at, is_deleted from raw.deals")
        assert {i: (u.astimezone(UTC), d) for i, u, d in rows} == crm_state(api, "deals")
        again = run_extract(destination="duckdb", base_url=sb.base_url, api_key=sb.api_key,
                            duckdb_path=first, pipelines_dir=tmp_path / "pipelines")
        assert again["notes"] == []
        assert again["raw_counts"]["deals"] == sb.state.gen.sizes["deals"]
