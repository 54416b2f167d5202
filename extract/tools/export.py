"""`python -m extract export`: write each table of a layer to dated files.

The databases do the writing: DuckDB's `COPY ... TO` for every format,
PostgreSQL's `COPY ... TO STDOUT` streamed into the file for CSV and JSON,
and a server-side cursor fed to pyarrow in batches for Parquet. Python never
holds a whole table, so memory stays flat for a 1,000,000-row table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from extract.errors import not_built
from extract.tools.db import (
    Column,
    Database,
    ToolError,
    connect,
    decimal_scale,
    marts_schema,
    one_line_errors,
    quote_ident,
    raw_schema,
    require_table,
)

log = logging.getLogger(__name__)

FORMATS = ("json", "csv", "parquet")
PG_BATCH_ROWS = 50_000
# Exported files hold the CRM's data: readable by their owner only.
PRIVATE_FILE_MODE = 0o600


def parse_formats(text: str) -> list[str]:
    """`json,csv` -> ["json", "csv"]; an unknown format is a one-line error."""
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ToolError(f"--format takes {', '.join(FORMATS)} (comma-separated), got {text!r}")
    return list(dict.fromkeys(formats))


def output_path(out_dir: Path, day: dt.date, table: str, fmt: str, jsonl: bool) -> Path:
    ext = "jsonl" if fmt == "json" and jsonl else fmt
    return out_dir / f"{day.isoformat()}_{table}.{ext}"


def _text_select(db: Database, schema: str, table: str, columns: list[Column]) -> str:
    """A select that renders timestamps as ISO 8601 text (`T` between date and time)."""
    parts = []
    for col in columns:
        name = quote_ident(col.name)
        if col.family in {"timestamp", "timestamptz"}:
            parts.append(f"replace(cast({name} as varchar), ' ', 'T') as {name}")
        else:
            parts.append(name)
    return f"select {', '.join(parts)} from {quote_ident(schema)}.{quote_ident(table)}"


def _sql_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _duckdb_copy(db: Database, select: str, path: Path, fmt: str, jsonl: bool) -> None:
    options = {
        "csv": "format csv, header true",
        "parquet": "format parquet",
        "json": "format json" + ("" if jsonl else ", array true"),
    }[fmt]
    db.conn.execute(f"copy ({select}) to {_sql_literal(path)} ({options})")


class _JsonArrayWriter:
    """Turns the one-object-per-line stream of COPY into a JSON array, as it flows."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._held_newline = False
        self._first = True
        out.write(b"[")

    def write(self, data: bytes | str) -> int:
        chunk = data.encode() if isinstance(data, str) else data
        if not chunk:
            return 0
        if self._held_newline:
            self._out.write(b",\n")
            self._held_newline = False
        elif self._first:
            self._out.write(b"\n")
        self._first = False
        if chunk.endswith(b"\n"):
            chunk = chunk[:-1]
            self._held_newline = True
        self._out.write(chunk.replace(b"\n", b",\n"))
        return len(data)

    def close(self) -> None:
        self._out.write(b"\n]\n" if not self._first else b"]\n")


def _pg_copy_csv(db: Database, select: str, path: Path) -> None:
    with open(path, "wb") as out, db.conn.cursor() as cur:
        cur.copy_expert(f"copy ({select}) to stdout with (format csv, header true)", out)


def _pg_copy_json(db: Database, schema: str, table: str, path: Path, jsonl: bool) -> None:
    # row_to_json already writes ISO timestamps and exact numerics. CSV mode with
    # quote/delimiter bytes that JSON text never contains copies the text unescaped.
    source = f"{quote_ident(schema)}.{quote_ident(table)}"
    sql = (
        f"copy (select row_to_json(t)::text from {source} as t)"
        " to stdout with (format csv, quote e'\\x01', delimiter e'\\x02')"
    )
    with open(path, "wb") as out, db.conn.cursor() as cur:
        if jsonl:
            cur.copy_expert(sql, out)
            return
        writer = _JsonArrayWriter(out)
        cur.copy_expert(sql, writer)
        writer.close()


def _arrow_type(col: Column) -> Any:
    import pyarrow as pa

    family = col.family
    if family == "decimal":
        scale = decimal_scale(col.data_type)
        precision = int(col.data_type.split("(")[1].split(",")[0]) if scale is not None else 38
        return pa.decimal128(min(precision, 38), scale if scale is not None else 9)
    return {
        "int": pa.int64(),
        "text": pa.string(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
        "bool": pa.bool_(),
        "float": pa.float64(),
    }.get(family, pa.string())


def _pg_parquet(db: Database, schema: str, table: str, columns: list[Column], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_schema = pa.schema([pa.field(c.name, _arrow_type(c)) for c in columns])
    parts = [
        f"{quote_ident(c.name)}::text" if _arrow_type(c) == pa.string() else quote_ident(c.name)
        for c in columns
    ]
    select = f"select {', '.join(parts)} from {quote_ident(schema)}.{quote_ident(table)}"
    db.conn.autocommit = False  # a named (server-side) cursor needs a transaction
    try:
        with db.conn.cursor(name="crm_export") as cur, pq.ParquetWriter(path, arrow_schema) as pw:
            cur.itersize = PG_BATCH_ROWS
            cur.execute(select)
            while rows := cur.fetchmany(PG_BATCH_ROWS):
                arrays = [
                    pa.array([r[i] for r in rows], type=f.type)
                    for i, f in enumerate(arrow_schema)
                ]
                pw.write_batch(pa.RecordBatch.from_arrays(arrays, schema=arrow_schema))
    finally:
        db.conn.rollback()
        db.conn.autocommit = True


def export_table(
    db: Database, schema: str, table: str, path: Path, fmt: str, jsonl: bool = False
) -> None:
    """Write one table in one format to `path` (via a `.part` file, renamed when complete);
    the file is its owner's only (mode 0600)."""
    columns = require_table(db, schema, table)
    tmp = path.with_name(path.name + ".part")
    text_select = _text_select(db, schema, table, columns)
    if db.kind == "duckdb":
        plain = f"select * from {quote_ident(schema)}.{quote_ident(table)}"
        _duckdb_copy(db, plain if fmt == "parquet" else text_select, tmp, fmt, jsonl)
    elif fmt == "csv":
        _pg_copy_csv(db, text_select, tmp)
    elif fmt == "json":
        _pg_copy_json(db, schema, table, tmp, jsonl)
    else:
        _pg_parquet(db, schema, table, columns, tmp)
    # Owner-only (0600) whatever the umask, and also when an earlier `.part` was left.
    os.chmod(tmp, PRIVATE_FILE_MODE)
    os.replace(tmp, path)


def layer_tables(db: Database, schema: str, wanted: Sequence[str] | None) -> list[str]:
    """The tables to export: all of the layer (without dlt's own), or the named ones."""
    present = [t for t in db.tables(schema) if not t.startswith("_dlt_")]
    if not present:
        raise ToolError(
            not_built(f"schema {schema} has no tables in {db.kind}")
        )
    if not wanted:
        return present
    missing = [t for t in wanted if t not in present]
    if missing:
        raise ToolError(
            f"no table {', '.join(missing)} in {schema} (tables: {', '.join(present)})"
        )
    return list(dict.fromkeys(wanted))


def export(
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    layer: str = "marts",
    tables: Sequence[str] | None = None,
    jsonl: bool = False,
    day: dt.date | None = None,
    db: Database | None = None,
) -> list[Path]:
    """Export the tables of `layer` to `out_dir`; returns the files written."""
    schema = marts_schema() if layer == "marts" else raw_schema()
    day = day or dt.datetime.now(dt.UTC).date()
    out_dir.mkdir(parents=True, exist_ok=True)
    if db is None:
        with connect(read_only=True) as own:
            return export(out_dir, formats, layer, tables, jsonl, day, own)
    if db.kind == "duckdb":
        # Lets COPY stream rows out as they are read instead of buffering them to keep
        # the table's order: peak memory stays ~100 MB for 1M or 3M rows (vs 0.4-0.8 GB).
        db.conn.execute("set preserve_insertion_order = false")
    written = []
    for table in layer_tables(db, schema, tables):
        for fmt in formats:
            path = output_path(out_dir, day, table, fmt, jsonl)
            export_table(db, schema, table, path, fmt, jsonl)
            log.info("wrote %s", path)
            written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format)
    tables = [t for item in args.tables or [] for t in item.split(",") if t]
    files = export(Path(args.out), formats, args.layer, tables, args.jsonl)
    if not getattr(args, "quiet", False):
        for path in files:
            print(f"wrote {path}")
        print(f"exported {len(files)} file(s) to {args.out}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="write the marts (or raw) to dated JSON/CSV/Parquet files",
        description="Write <YYYY-MM-DD>_<table>.<ext> for each table of a layer.",
    )
    p.add_argument("--out", required=True, help="output directory (created if missing)")
    p.add_argument("--format", default="json,csv", help="json,csv,parquet (default json,csv)")
    p.add_argument("--layer", choices=("marts", "raw"), default="marts")
    p.add_argument("--tables", nargs="*", help="only these tables (default: all)")
    p.add_argument("--jsonl", action="store_true", help="JSON lines instead of one array")
    p.set_defaults(func=one_line_errors(run))
