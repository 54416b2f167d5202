"""`python -m extract find` and the Python API (`from extract import ...`)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest


def _deal(world: Any) -> tuple[int, int, str]:
    """(CRM id, deal_id, deal_stage) of one deal in the marts."""
    row = world.query(
        "select id, deal_id, deal_stage from marts.deals order by id limit 1 offset 5"
    )
    return row[0]


def test_find_by_id_prints_that_record(world: Any, cli: Any) -> None:
    crm_id, deal_id, _ = _deal(world)
    result = cli("find", "deals", "--id", str(crm_id), "--format", "json")
    assert result.code == 0, result.err
    rows = json.loads(result.out, parse_float=Decimal)
    assert [(r["id"], r["deal_id"]) for r in rows] == [(crm_id, deal_id)]


def test_find_where_matches_the_mart(world: Any, cli: Any) -> None:
    _, _, stage = _deal(world)
    result = cli("find", "deals", "--where", f"deal_stage={stage}", "--format", "csv")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    expected = world.query("select id from marts.deals where deal_stage = ? order by id", [stage])
    assert [int(r["id"]) for r in rows] == [e[0] for e in expected]
    assert {r["deal_stage"] for r in rows} == {stage}


def test_find_casts_values_and_takes_enum_spelling(world: Any, cli: Any) -> None:
    crm_id, deal_id, stage = _deal(world)
    result = cli("find", "deals", "--where", f"deal_id=+{deal_id}",
                 "--where", f"deal_stage={stage.upper()}", "--format", "json")
    assert result.code == 0, result.err
    assert [r["id"] for r in json.loads(result.out)] == [crm_id]


def test_find_table_format_and_no_match(world: Any, cli: Any) -> None:
    result = cli("find", "accounts", "--where", "account_name=No such account")
    assert result.code == 1
    assert result.out.splitlines()[0].split()[:2] == ["id", "account_id"]
    assert "(0 rows)" in result.out


@pytest.mark.parametrize(
    "where",
    [
        "deal_stage or 1=1 --=x",
        "deal_id;drop table marts.deals=1",
        '"deal_id"=1',
        "1=1",
    ],
)
def test_injection_in_the_field_name_is_refused(world: Any, cli: Any, where: str) -> None:
    result = cli("find", "deals", "--where", where)
    assert result.code == 2
    assert "has no field" in result.err and len(result.err.strip().splitlines()) == 1
    assert world.query("select count(*) from marts.deals")[0][0] > 0


@pytest.mark.parametrize(
    "value",
    ["x' or '1'='1", "x'; drop table marts.deals; --", "' union select * from marts.deals --"],
)
def test_injection_in_a_text_value_matches_nothing(world: Any, cli: Any, value: str) -> None:
    result = cli("find", "deals", "--where", f"deal_name={value}", "--format", "json")
    assert result.code == 1
    assert json.loads(result.out) == []
    assert world.query("select count(*) from marts.deals")[0][0] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "1 or 1=1"], "deals.id is bigint: '1 or 1=1' does not cast"),
        (["--where", "deal_size=12.345"], "more than 2 decimal places"),
        (["--where", "created_at=yesterday"], "does not cast"),
        (["--where", "deal_stage=Won"], "takes Prospecting, Negotiation"),
        (["--where", "deal_stage"], "--where takes FIELD=VALUE"),
    ],
)
def test_values_that_do_not_cast_are_refused(
    world: Any, cli: Any, args: list[str], message: str
) -> None:
    result = cli("find", "deals", *args)
    assert result.code == 2
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1


# ---------------------------------------------------------------- Python API


def test_load_to_df_is_the_whole_mart_with_exact_decimals(world: Any) -> None:
    from extract import load_to_df

    df = load_to_df("deals")
    assert len(df) == world.query("select count(*) from marts.deals")[0][0]
    assert list(df.columns)[:3] == ["id", "deal_id", "deal_name"]
    sizes = [v for v in df["deal_size"] if v is not None]
    assert sizes and all(isinstance(v, Decimal) for v in sizes)
    raw = load_to_df("deal_stages", layer="raw")
    assert "Negotiation" in set(raw["name"])


def test_find_functions(world: Any) -> None:
    from extract import find_all, find_by_field_name, find_by_id

    crm_id, deal_id, stage = _deal(world)
    assert find_by_id("deals", crm_id)["deal_id"] == deal_id
    assert find_by_id("deals", 1) is None
    same_stage = find_by_field_name("deals", "deal_stage", stage)
    assert crm_id in {r["id"] for r in same_stage}
    assert all(r["deal_stage"] == stage for r in same_stage)
    assert len(find_all("accounts")) == world.query("select count(*) from marts.accounts")[0][0]
    from extract.tools.db import ToolError

    with pytest.raises(ToolError, match="has no field"):
        find_by_field_name("deals", "deal_stage or 1=1", stage)


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_deals(require_postgres: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import psycopg2

    from extract.config import pg_settings

    schema = f"tools_{uuid.uuid4().hex[:10]}"
    pg = pg_settings()
    conn = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password,
                            dbname=pg.database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"create schema {schema}")
        cur.execute(f"create table {schema}.deals (id bigint, deal_id bigint,"
                    " deal_name varchar, deal_size numeric(18,2), deal_stage varchar)")
        cur.execute(f"insert into {schema}.deals values (1, 100001, 'A', 10.50, 'Prospecting'),"
                    " (2, 100002, 'B''s', null, 'Negotiation')")
    monkeypatch.setenv("DBT_TARGET", "postgres")
    monkeypatch.setenv("MARTS_SCHEMA", schema)
    try:
        yield schema
    finally:
        with conn.cursor() as cur:
            cur.execute(f"drop schema {schema} cascade")
        conn.close()


def test_find_on_postgres(pg_deals: str, cli: Any) -> None:
    result = cli("find", "deals", "--where", "deal_name=B's", "--format", "json")
    assert result.code == 0, result.err
    assert [r["id"] for r in json.loads(result.out)] == [2]
    result = cli("find", "deals", "--where", "deal_name=x' or '1'='1", "--format", "json")
    assert result.code == 1 and json.loads(result.out) == []
    result = cli("find", "deals", "--where", "deal_size or 1=1 --=1")
    assert result.code == 2 and "has no field" in result.err
    result = cli("find", "deals", "--id", "1", "--format", "csv")
    assert result.out.splitlines() == [
        "id,deal_id,deal_name,deal_size,deal_stage", "1,100001,A,10.50,Prospecting"
    ]
