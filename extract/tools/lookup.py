"""`python -m extract find`: the original find_all / find_by_id / find_by_field_name.

Field names are checked against the mart's real columns (so they can be
quoted safely), values are cast to the column's type and always sent as
query parameters, never spliced into the SQL.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import IO, Any

from extract.tools.contract import ENTITIES, ColumnSpec, cast_value, mart_contract
from extract.tools.db import (
    Database,
    ToolError,
    connect,
    marts_schema,
    one_line_errors,
    positive_int,
    quote_ident,
    require_table,
)

Row = dict[str, Any]


def _specs(db: Database, entity: str) -> dict[str, ColumnSpec]:
    """The mart's columns as the database has them, with the contract's enums."""
    columns = require_table(db, marts_schema(), entity)
    try:
        contract = mart_contract(entity)
    except ToolError:
        contract = {}
    return {
        c.name: ColumnSpec(
            c.name,
            c.data_type,
            accepted=contract[c.name].accepted if c.name in contract else (),
        )
        for c in columns
    }


def parse_where(items: Sequence[str]) -> list[tuple[str, str]]:
    """["deal_stage=Won", ...] -> [("deal_stage", "Won"), ...]."""
    pairs = []
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ToolError(f"--where takes FIELD=VALUE, got {item!r}")
        pairs.append((field.strip(), value))
    return pairs


def build_conditions(
    entity: str, specs: dict[str, ColumnSpec], pairs: Sequence[tuple[str, str]]
) -> list[tuple[str, Any]]:
    """Check each field against the mart and cast each value to its column's type."""
    conditions = []
    for field, text in pairs:
        if field not in specs:
            raise ToolError(f"{entity} has no field {field!r} (fields: {', '.join(specs)})")
        spec = specs[field]
        lenient = ColumnSpec(spec.name, spec.data_type, spec.accepted, not_null=False)
        conditions.append((field, cast_value(entity, lenient, text)))
    return conditions


def select_rows(
    db: Database, entity: str, conditions: Sequence[tuple[str, Any]], limit: int | None = None
) -> list[Row]:
    """Rows of the mart matching every condition (`is null` for an empty value)."""
    clauses, params = [], []
    for field, value in conditions:
        if value is None:
            clauses.append(f"{quote_ident(field)} is null")
        else:
            clauses.append(f"{quote_ident(field)} = {db.param}")
            params.append(value)
    sql = f"select * from {quote_ident(marts_schema())}.{quote_ident(entity)}"
    if clauses:
        sql += " where " + " and ".join(clauses)
    sql += " order by 1"
    if limit is not None:
        sql += f" limit {int(limit)}"
    names, rows = db.fetch(sql, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def find(
    entity: str,
    where: Sequence[tuple[str, str]] = (),
    limit: int | None = None,
    db: Database | None = None,
) -> list[Row]:
    """Find rows of a mart by FIELD=VALUE text pairs (cast to the column types)."""
    if entity not in ENTITIES:
        raise ToolError(f"find works on {', '.join(ENTITIES)}, got {entity!r}")
    if db is None:
        with connect(read_only=True) as own:
            return find(entity, where, limit, own)
    conditions = build_conditions(entity, _specs(db, entity), where)
    return select_rows(db, entity, conditions, limit)


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # exact, written as a JSON number
    if isinstance(value, dt.date | dt.datetime):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False, default=str)


def write_json(rows: Sequence[Row], out: IO[str]) -> None:
    out.write("[")
    for i, row in enumerate(rows):
        body = ", ".join(f"{json.dumps(k)}: {_json_value(v)}" for k, v in row.items())
        out.write(("," if i else "") + "\n  {" + body + "}")
    out.write("\n]\n" if rows else "]\n")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def write_csv(rows: Sequence[Row], columns: Sequence[str], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(row[c]) for c in columns])


def write_table(rows: Sequence[Row], columns: Sequence[str], out: IO[str]) -> None:
    cells = [[_text(row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def run(args: argparse.Namespace) -> int:
    pairs = parse_where(args.where or [])
    if args.id is not None:
        pairs.insert(0, ("id", args.id))
    with connect(read_only=True) as db:
        specs = _specs(db, args.entity)
        conditions = build_conditions(args.entity, specs, pairs)
        rows = select_rows(db, args.entity, conditions, args.limit)
    columns = list(specs)
    if args.format == "json":
        write_json(rows, sys.stdout)
    elif args.format == "csv":
        write_csv(rows, columns, sys.stdout)
    else:
        write_table(rows, columns, sys.stdout)
    return 0 if rows else 1  # like grep: 1 when nothing matched


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "find",
        help="look records up in the marts (find_all / find_by_id / find_by_field_name)",
        description="Print the mart rows matching --id or every --where FIELD=VALUE.",
    )
    p.add_argument("entity", choices=ENTITIES)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--id", help="the CRM id (column id)")
    which.add_argument(
        "--where", action="append", metavar="FIELD=VALUE", help="repeat to AND conditions"
    )
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--limit", type=positive_int, help="at most this many rows (1 or more)")
    p.set_defaults(func=one_line_errors(run))
