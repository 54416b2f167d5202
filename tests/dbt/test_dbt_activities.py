"""Issue 13 in the marts: tasks, appointments, sales activities, leads and
users, and deals in several currencies. A sandbox that sells 30% of its deals
in EUR, GBP or INR is extracted and built on DuckDB (and PostgreSQL); the
marts are checked against the sandbox's own numbers and dirt manifest, after
a sync of changes too, and a single-currency tenant keeps today's
deal_aggregations."""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from dbt_support import (
    ACTIVITIES,
    MART_KEYS,
    DbtProject,
    actual_fates,
    expected_fates,
    extract_duckdb,
    extract_postgres,
    fate_differences,
    mart_rows,
    pg_cursor,
    postgres_project,
    rows,
)

from extract.pipeline import run_extract
from extract.sandbox import SandboxConfig, serve_in_thread

FOREIGN = SandboxConfig(seed=11, accounts=100, contacts=600, deals=800,
                        foreign_currency_share=0.3)
NEW_ENTITIES = ("leads", *ACTIVITIES)
# Dirt of the new modules that keeps the record, with the mart column left NULL.
NULL_COLUMNS = {("leads", "missing:job_title"): "job_title",
                ("leads", "missing:company"): "company_name",
                ("tasks", "missing:description"): "description",
                ("appointments", "missing:location"): "location",
                ("sales_activities", "missing:notes"): "notes"}


def admin_mutate(sandbox: Any, body: dict[str, Any]) -> list[int]:
    response = requests.post(
        sandbox.base_url.rstrip("/") + "/admin/mutate", json=body, timeout=10,
        headers={"Authorization": f"Token token={sandbox.api_key}"})
    response.raise_for_status()
    return list(response.json()["ids"])


def build(path: Path, workdir: Path, *args: str) -> DbtProject:
    project = DbtProject(workdir, env={"DUCKDB_PATH": str(path)})
    result = project.run("build", *args)
    assert "Completed successfully" in result.stdout
    return project


def counts(con: duckdb.DuckDBPyConnection, sql: str) -> dict[Any, int]:
    return {key: count for key, count in rows(con, sql)}


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The multi-currency sandbox extracted and built once; the sandbox keeps
    running for the tests that sync changes."""
    workdir = tmp_path_factory.mktemp("foreign")
    path = workdir / "crm.duckdb"
    with serve_in_thread(FOREIGN) as sandbox:
        extract_duckdb(sandbox, path, workdir / "pipelines")
        build(path, workdir / "dbt")
        manifest = list(sandbox.state.manifest_rows())
        yield {"sandbox": sandbox, "path": path, "workdir": workdir, "manifest": manifest}


def test_new_marts_hold_every_sandbox_record_but_the_dirty_ones(foreign: dict[str, Any]) -> None:
    with duckdb.connect(str(foreign["path"]), read_only=True) as con:
        expected = expected_fates(foreign["manifest"], con, "original")
        for entity in NEW_ENTITIES:
            raw_count = rows(con, f"select count(*) from raw.{entity}")[0][0]
            assert raw_count == FOREIGN.size(entity) > 0, entity
            kept = sum(1 for (e, _), (fate, _) in expected.items()
                       if e == entity and fate == "kept")
            mart = rows(con, f"select count(*) from marts.{entity}")[0][0]
            assert 0 < mart == kept < raw_count, entity
        users = rows(con, "select count(*), count(team_name) from marts.users")[0]
        owners = rows(con, "select count(*), count(team_id) from raw.owners")[0]
        assert users == owners and users[1] > 0


def kind_of(reason: str) -> str:
    return "duplicate_of" if reason.startswith("duplicate_of:") else reason


def test_every_dirty_record_of_the_new_modules_lands_where_the_manifest_says(
    foreign: dict[str, Any],
) -> None:
    manifest = foreign["manifest"]
    with duckdb.connect(str(foreign["path"]), read_only=True) as con:
        expected = expected_fates(manifest, con, "original")
        actual = actual_fates(con)
        nulls = {}
        for (entity, kind), column in NULL_COLUMNS.items():
            ids = [m["id"] for m in manifest if m["entity"] == entity and kind in m["dirt"]]
            nulls[kind] = rows(con, f"""select count(*), count({column}) from marts.{entity}
                                        where id in ({', '.join(map(str, ids or [0]))})""")[0]
    differences = fate_differences(expected, actual)
    assert not differences, f"{len(differences)} records misplaced:\n" + "\n".join(
        differences[:20])
    reasons: dict[str, set[str]] = defaultdict(set)
    for (entity, _), (_, reason) in actual.items():
        if reason:
            reasons[entity].add(kind_of(reason))
    dirt: dict[str, set[str]] = defaultdict(set)
    for row in manifest:
        dirt[row["entity"]].update(kind_of(kind) for kind in row["dirt"])
    for entity in NEW_ENTITIES:  # every rejecting kind occurs and is a reason
        kept = {kind for (e, kind) in NULL_COLUMNS if e == entity} | {"deleted"}
        assert dirt[entity] - kept and dirt[entity] - kept <= reasons[entity], entity
    assert "unknown_currency" in dirt["deals"] and "no_exchange_rate" in reasons["deals"]
    # nullable dirt rejects nothing (the fates above) and leaves the value NULL
    # (the sandbox puts it mostly on records another kind rejects)
    assert all(filled == 0 for _, filled in nulls.values()), nulls
    assert any(total for total, _ in nulls.values()), nulls


def test_activities_point_at_records_in_the_marts(foreign: dict[str, Any]) -> None:
    with duckdb.connect(str(foreign["path"]), read_only=True) as con:
        for entity in ACTIVITIES:
            by_type = counts(con, f"""
                select a.target_type, count(*) from marts.{entity} as a
                left join marts.accounts as acc
                    on a.target_type = 'Account' and acc.id = a.target_crm_id
                    and acc.account_id = a.account_id
                left join marts.contacts as c
                    on a.target_type = 'Contact' and c.id = a.target_crm_id
                    and c.contact_id = a.contact_id
                left join marts.deals as d
                    on a.target_type = 'Deal' and d.id = a.target_crm_id
                    and d.deal_id = a.deal_id
                where coalesce(acc.id, c.id, d.id) is not null
                group by 1""")
            total = rows(con, f"select count(*) from marts.{entity}")[0][0]
            assert sum(by_type.values()) == total and set(by_type) == {
                "Account", "Contact", "Deal"}, entity
        unowned = rows(con, """
            select count(*) from marts.deals as d
            left join marts.users as u on u.id = d.owner_id
            where d.owner_id is not null and u.id is null""")
        assert unowned == [(0,)]


def test_deals_in_other_currencies_are_summed_in_the_base_currency(
    foreign: dict[str, Any],
) -> None:
    """deal_size stays in the deal's currency; deal_size_base equals the CRM's
    own base_currency_amount; deal_aggregations adds the base amounts."""
    with duckdb.connect(str(foreign["path"]), read_only=True) as con:
        by_currency = counts(con, """
            select currency_code, count(*) from marts.deals group by 1""")
        differing = rows(con, """
            select count(*) filter (where m.deal_size <> r.amount),
                   count(*) filter (where m.deal_size_base
                                    is distinct from r.base_currency_amount),
                   count(*) filter (where m.base_currency_code <> 'USD')
            from marts.deals as m join raw.deals as r on r.id = m.id""")[0]
        daily = rows(con, """
            select account_id, cast(created_at as date), sum(deal_size_base)
            from marts.deals where deal_size is not null group by 1, 2""")
        aggregated = rows(con, """
            select account_id, aggregation_date, total_deal_size
            from marts.deal_aggregations where aggregation_type = 'daily'""")
        crm_total = rows(con, """
            select sum(r.base_currency_amount) from marts.deals as m
            join raw.deals as r on r.id = m.id""")[0][0]
        summed = rows(con, """select sum(total_deal_size) from marts.deal_aggregations
                              where aggregation_type = 'monthly'""")[0][0]
    assert set(by_currency) == {"USD", "EUR", "GBP", "INR"}
    assert by_currency["USD"] < sum(by_currency.values()) * 0.8
    assert differing == (0, 0, 0)
    assert sorted(daily) == sorted(aggregated)
    assert summed == crm_total


def test_a_tenant_without_the_leads_module_builds_empty_leads(tmp_path: Path) -> None:
    """A CRM that answers 404 on leads, and a raw schema with no leads table at
    all: the build passes and marts.leads is empty with its columns."""
    path = tmp_path / "crm.duckdb"
    config = SandboxConfig(seed=5, accounts=20, contacts=60, deals=80, leads_module=False)
    with serve_in_thread(config) as sandbox:
        extract_duckdb(sandbox, path, tmp_path / "pipelines")
    with duckdb.connect(str(path)) as con:
        con.execute("drop table if exists raw.leads")
    build(path, tmp_path / "dbt")
    with duckdb.connect(str(path), read_only=True) as con:
        leads = rows(con, "select count(*) from marts.leads")
        columns = [name for name, *_ in rows(con, "describe marts.leads")]
        tasks = rows(con, "select count(*) from marts.tasks")[0][0]
    assert leads == [(0,)]
    assert columns[:4] == ["id", "first_name", "last_name", "email"]
    assert tasks > 0


def test_a_single_currency_tenant_keeps_todays_deal_aggregations(tmp_path: Path) -> None:
    """Every deal in USD: deal_size_base = deal_size, and deal_aggregations is
    what the original rule gives, sums of deal_size per account and UTC day,
    Monday week and month of created_at."""
    path = tmp_path / "crm.duckdb"
    config = SandboxConfig(seed=3, accounts=40, contacts=80, deals=300,
                           foreign_currency_share=0)
    with serve_in_thread(config) as sandbox:
        extract_duckdb(sandbox, path, tmp_path / "pipelines")
    build(path, tmp_path / "dbt")
    with duckdb.connect(str(path), read_only=True) as con:
        deals = rows(con, """select account_id, created_at, deal_size, deal_size_base,
                             currency_code from marts.deals""")
        aggregations = rows(con, """select account_id, aggregation_type, aggregation_date,
                                    total_deal_size, deal_count from marts.deal_aggregations""")
        rejected = rows(con, """select count(*) from marts.rejected_records
                                where reason = 'no_exchange_rate'""")
    expected: dict[tuple[Any, str, date], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for account, created, size, base, code in deals:
        assert base == size and code == "USD"
        if size is None:
            continue
        day = created.date()
        for kind, start in (("daily", day), ("weekly", day - timedelta(days=day.weekday())),
                            ("monthly", day.replace(day=1))):
            expected[(account, kind, start)][0] += size
            expected[(account, kind, start)][1] += 1
    assert rejected == [(0,)]
    assert sorted(aggregations) == sorted(
        (*key, total, count) for key, (total, count) in expected.items())


@pytest.mark.usefixtures("require_postgres")
def test_postgres_builds_the_same_new_marts_and_conversions(
    foreign: dict[str, Any], pg_prefix: str, tmp_path: Path,
) -> None:
    extract_postgres(foreign["sandbox"], f"{pg_prefix}raw", tmp_path / "pipelines")
    project = postgres_project(tmp_path / "dbt", pg_prefix)
    assert "Completed successfully" in project.run("build").stdout
    with pg_cursor() as cur:
        def fetch(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            return cur.fetchall()

        postgres = mart_rows(fetch, f"{pg_prefix}marts")
    with duckdb.connect(str(foreign["path"]), read_only=True) as con:
        duck = mart_rows(lambda sql: con.execute(sql).fetchall(), "marts")
    for mart in MART_KEYS:
        assert duck[mart], f"{mart} is empty on DuckDB"
        assert postgres[mart] == duck[mart], f"{mart} differs between DuckDB and PostgreSQL"


def test_a_sync_of_changes_converges_to_the_crm(
    foreign: dict[str, Any], tmp_path: Path,
) -> None:
    """Update and delete tasks, appointments, activities and leads in the CRM,
    sync (a full sweep of the lists, which is how their deletes are caught),
    build again: the changes are in the marts, the deleted records in none,
    and every raw record still accounted for (the build's singular test)."""
    sandbox = foreign["sandbox"]
    path = tmp_path / "crm.duckdb"
    shutil.copy(foreign["path"], path)
    shutil.copytree(foreign["workdir"] / "pipelines", tmp_path / "pipelines")
    with duckdb.connect(str(path), read_only=True) as con:
        victims = {entity: [crm_id for (crm_id,) in rows(
            con, f"select id from marts.{entity} order by id limit 2")]
            for entity in NEW_ENTITIES}
    changed = {entity: admin_mutate(sandbox, {"entity": entity, "count": 5})
               for entity in NEW_ENTITIES}
    for entity, ids in victims.items():
        admin_mutate(sandbox, {"entity": entity, "ids": ids, "delete": True})
        changed[entity] = [crm_id for crm_id in changed[entity] if crm_id not in ids]
    run_extract(destination="duckdb", base_url=sandbox.base_url, api_key=sandbox.api_key,
                duckdb_path=str(path), dataset="raw", pipelines_dir=str(tmp_path / "pipelines"),
                full_sweep=True)
    build(path, tmp_path / "dbt")
    with duckdb.connect(str(foreign["path"]), read_only=True) as con:
        before = {entity: dict(rows(con, f"""select id, updated_at from marts.{entity}
            where id in ({', '.join(map(str, ids))})""")) for entity, ids in changed.items()}
    with duckdb.connect(str(path), read_only=True) as con:
        for entity, ids in victims.items():
            left = rows(con, f"select count(*) from marts.{entity} where id in "
                             f"({', '.join(map(str, ids))})")
            assert left == [(0,)], f"deleted {entity} still in the mart"
            after = dict(rows(con, f"""select id, updated_at from marts.{entity}
                where id in ({', '.join(map(str, changed[entity]))})"""))
            assert after.keys() == before[entity].keys() and after, entity
            assert all(after[i] > before[entity][i] for i in after), entity
        expected = expected_fates(list(sandbox.state.manifest_rows()), con, "original")
        actual = actual_fates(con)
    gone = {(entity, crm_id) for entity, ids in victims.items() for crm_id in ids}
    differences = [d for d in fate_differences(expected, actual)
                   if not any(d.startswith(str(key)) for key in gone)]
    assert not differences, "\n".join(differences[:20])
    assert all(actual[key] == ("deleted", None) for key in gone)
