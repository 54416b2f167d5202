"""`python -m extract export`: files re-read equal the marts, in every format."""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from export_helpers import export_day as _day

from extract.tools.db import type_family


def _column_types(world: Any, schema: str, table: str) -> dict[str, str]:
    rows = world.query(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    )
    return {name: type_family(kind) for name, kind in rows}


def _parse(text: str | None, family: str) -> Any:
    """A CSV cell or JSON string back to the value the database holds."""
    if text is None or text == "":
        return None
    if family == "int":
        return int(text)
    if family == "decimal":
        return Decimal(text)
    if family == "date":
        return dt.date.fromisoformat(text)
    if family in {"timestamp", "timestamptz"}:
        assert "T" in text, f"timestamp {text!r} is not ISO 8601"
        return dt.datetime.fromisoformat(text)
    if family == "bool":
        return text in {"true", "True", True}
    return text


def _from_json(value: Any, family: str) -> Any:
    if value is None or isinstance(value, int | Decimal | bool) or family == "text":
        return value
    return _parse(value, family)


def _mart(world: Any, table: str) -> list[tuple]:
    return world.query(f"select * from marts.{table} order by all")


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r))


@pytest.fixture(scope="module")
def exported(world: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from extract.cli import main

    out = tmp_path_factory.mktemp("export")
    assert main(["export", "--out", str(out), "--format", "json,csv,parquet"]) == 0
    return out


def test_one_file_per_table_and_format_named_by_date(world: Any, exported: Path) -> None:
    tables = [r[0] for r in world.query(
        "select table_name from information_schema.tables where table_schema = 'marts'"
    )]
    assert set(tables) >= {"accounts", "contacts", "deals", "deal_aggregations"}
    day = _day(exported)
    expected = {f"{day}_{t}.{ext}" for t in tables for ext in ("json", "csv", "parquet")}
    assert {p.name for p in exported.iterdir()} == expected


@pytest.mark.parametrize("table", ["accounts", "contacts", "deals", "deal_aggregations"])
def test_csv_json_parquet_read_back_equal_the_mart(world: Any, exported: Path, table: str) -> None:
    types = _column_types(world, "marts", table)
    expected = _sorted(_mart(world, table))
    assert expected, f"marts.{table} should not be empty in this test"

    with open(exported / f"{_day(exported)}_{table}.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == list(types)
        from_csv = [tuple(_parse(row[c], types[c]) for c in types) for row in reader]
    assert _sorted(from_csv) == expected

    with open(exported / f"{_day(exported)}_{table}.json") as handle:
        records = json.load(handle, parse_float=Decimal)
    assert isinstance(records, list)
    from_json = [tuple(_from_json(r[c], types[c]) for c in types) for r in records]
    assert _sorted(from_json) == expected

    parquet = pq.read_table(exported / f"{_day(exported)}_{table}.parquet")
    assert parquet.column_names == list(types)
    from_parquet = [tuple(r[c] for c in types) for r in parquet.to_pylist()]
    assert _sorted(from_parquet) == expected


def test_decimals_are_exact_in_json(world: Any, exported: Path) -> None:
    text = (exported / f"{_day(exported)}_deals.json").read_text()
    records = json.loads(text, parse_float=Decimal)
    sizes = {r["id"]: r["deal_size"] for r in records}
    for crm_id, size in world.query("select id, deal_size from marts.deals"):
        assert sizes[crm_id] == size  # Decimal == Decimal, no float rounding
    assert any(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in sizes.values())


def test_empty_table_gives_header_only_csv_and_empty_array(world: Any, exported: Path) -> None:
    assert world.query("select count(*) from marts.rejected_records") == [(0,)]
    columns = list(_column_types(world, "marts", "rejected_records"))
    lines = (exported / f"{_day(exported)}_rejected_records.csv").read_text().splitlines()
    assert lines == [",".join(columns)]
    assert json.loads((exported / f"{_day(exported)}_rejected_records.json").read_text()) == []
    parquet = pq.read_table(exported / f"{_day(exported)}_rejected_records.parquet")
    assert parquet.num_rows == 0 and parquet.column_names == columns


def test_jsonl_and_table_selection(world: Any, tmp_path: Path, cli: Any) -> None:
    result = cli("export", "--out", str(tmp_path), "--format", "json", "--jsonl",
                 "--tables", "deals")
    assert result.code == 0, result.err
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == [f"{_day(tmp_path)}_deals.jsonl"]
    lines = files[0].read_text().splitlines()
    assert len(lines) == world.query("select count(*) from marts.deals")[0][0]
    assert all(json.loads(line)["deal_id"] for line in lines)


def test_raw_layer_exports_without_dlt_tables(world: Any, tmp_path: Path, cli: Any) -> None:
    result = cli("export", "--out", str(tmp_path), "--layer", "raw", "--format", "csv")
    assert result.code == 0, result.err
    names = {p.name for p in tmp_path.iterdir()}
    day = _day(tmp_path)
    assert f"{day}_deals.csv" in names and f"{day}_deal_stages.csv" in names
    assert not any("_dlt_" in n for n in names)
    with open(tmp_path / f"{_day(tmp_path)}_deals.csv", newline="") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == world.query(
            "select count(*) from raw.deals")[0][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "--format takes json, csv, parquet"),
        (["--tables", "nope"], "no table nope in marts"),
    ],
)
def test_bad_arguments_give_one_line(
    world: Any, tmp_path: Path, cli: Any, args: list[str], message: str
) -> None:
    result = cli("export", "--out", str(tmp_path), *args)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in result.err


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_schema(require_postgres: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An own schema in PostgreSQL with a `deals` table typed like the mart, and an empty one."""
    import psycopg2

    from extract.config import pg_settings

    schema = f"tools_{uuid.uuid4().hex[:10]}"
    pg = pg_settings()
    conn = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password,
                            dbname=pg.database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"create schema {schema}")
        cur.execute(
            f"create table {schema}.deals (id bigint, deal_id bigint, deal_name varchar,"
            " deal_size numeric(18,2), deal_stage varchar, expected date,"
            " created_at timestamp, seen_at timestamptz)"
        )
        cur.execute(
            f"insert into {schema}.deals values"
            " (1, 100001, 'Plain', 1234.50, 'Prospecting', '2024-02-29',"
            "  '2024-03-01 10:00:00', '2024-03-01 10:00:00.123+02'),"
            " (2, 100002, 'Quote \"and\", comma\nnewline \\ backslash', 0.10, 'Negotiation',"
            "  null, '2024-03-02 23:59:59.5', null),"
            " (3, 100003, null, null, 'Closed-Won', '1999-12-31', '2024-03-03 00:00:00', null)"
        )
        cur.execute(f"create table {schema}.rejected_records (entity varchar, crm_id bigint)")
    monkeypatch.setenv("DBT_TARGET", "postgres")
    monkeypatch.setenv("MARTS_SCHEMA", schema)
    try:
        yield schema
    finally:
        with conn.cursor() as cur:
            cur.execute(f"drop schema {schema} cascade")
        conn.close()


def test_postgres_export_round_trip(pg_schema: str, tmp_path: Path, cli: Any) -> None:
    result = cli("export", "--out", str(tmp_path), "--format", "json,csv,parquet")
    assert result.code == 0, result.err
    expected = [
        (1, 100001, "Plain", Decimal("1234.50"), "Prospecting", dt.date(2024, 2, 29),
         dt.datetime(2024, 3, 1, 10, 0)),
        (2, 100002, 'Quote "and", comma\nnewline \\ backslash', Decimal("0.10"), "Negotiation",
         None, dt.datetime(2024, 3, 2, 23, 59, 59, 500000)),
        (3, 100003, None, None, "Closed-Won", dt.date(1999, 12, 31), dt.datetime(2024, 3, 3)),
    ]
    families = ["int", "int", "text", "decimal", "text", "date", "timestamp"]
    names = ["id", "deal_id", "deal_name", "deal_size", "deal_stage", "expected", "created_at"]

    day = _day(tmp_path)
    records = json.loads((tmp_path / f"{day}_deals.json").read_text(), parse_float=Decimal)
    got = [tuple(_from_json(r[n], f) for n, f in zip(names, families, strict=True))
           for r in records]
    assert sorted(got, key=lambda r: r[0]) == expected
    assert records[0]["seen_at"] == "2024-03-01T08:00:00.123+00:00"  # UTC, ISO 8601

    with open(tmp_path / f"{_day(tmp_path)}_deals.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    got = [tuple(_parse(r[n], f) if f != "text" else (r[n] or None)
                 for n, f in zip(names, families, strict=True)) for r in rows]
    assert sorted(got, key=lambda r: r[0]) == expected

    table = pq.read_table(tmp_path / f"{_day(tmp_path)}_deals.parquet")
    assert str(table.schema.field("deal_size").type) == "decimal128(18, 2)"
    got = [tuple(r[n] for n in names) for r in table.to_pylist()]
    assert sorted(got, key=lambda r: r[0]) == expected

    assert (tmp_path / f"{_day(tmp_path)}_rejected_records.csv").read_text() == "entity,crm_id\n"
    assert json.loads((tmp_path / f"{_day(tmp_path)}_rejected_records.json").read_text()) == []
    assert pq.read_table(tmp_path / f"{_day(tmp_path)}_rejected_records.parquet").num_rows == 0
