"""One small connection layer over DuckDB and PostgreSQL for the tools.

The tools only read (export, find) or look up a few rows (update-value), so
this layer offers parameterised queries, the column types of a table and
quoting of identifiers; everything else is plain SQL in the caller.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from extract.errors import (  # noqa: F401 - ToolError: the tools import it from here too
    DUCKDB_LOCKED,
    ToolError,
    is_duckdb_lock,
    not_built,
    pg_unreachable,
    report,
)

Kind = Literal["duckdb", "postgres"]


@dataclass(frozen=True)
class Target:
    """Where the warehouse lives: a DuckDB file or a PostgreSQL database."""

    kind: Kind
    duckdb_path: str = "crm.duckdb"
    pg: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """A printable name of the target, never with a password."""
        if self.kind == "duckdb":
            return f"duckdb:{self.duckdb_path}"
        return "postgres://{user}@{host}:{port}/{dbname}".format(**self.pg)


@dataclass(frozen=True)
class Column:
    """A column as the database reports it, with a normalised type family."""

    name: str
    data_type: str

    @property
    def family(self) -> str:
        return type_family(self.data_type)


def type_family(data_type: str) -> str:
    """Map a database or dbt contract type name to one of a few families."""
    t = data_type.strip().lower()
    if t.startswith(("decimal", "numeric")):
        return "decimal"
    if t in {"bigint", "integer", "int", "int4", "int8", "smallint", "hugeint", "int2"}:
        return "int"
    if t.startswith("timestamp") and ("with time zone" in t or t == "timestamptz"):
        return "timestamptz"
    if t.startswith(("timestamp", "datetime")):
        return "timestamp"
    if t == "date":
        return "date"
    if t in {"boolean", "bool"}:
        return "bool"
    if t in {"double", "float", "real", "double precision", "float8", "float4"}:
        return "float"
    if t.startswith(("varchar", "character varying", "text", "string", "char")):
        return "text"
    return "other"


def decimal_scale(data_type: str) -> int | None:
    """The scale of `numeric(p,s)` / `decimal(p,s)`, None when not given."""
    match = re.search(r"\(\s*\d+\s*,\s*(\d+)\s*\)", data_type)
    return int(match.group(1)) if match else None


def target_from_env() -> Target:
    """The warehouse the settings name: DBT_TARGET=duckdb (default) or postgres."""
    from extract.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise ToolError(str(exc)) from None
    if settings.dbt_target == "postgres":
        pg = settings.pg
        return Target(
            "postgres",
            pg={
                "host": pg.host,
                "port": pg.port,
                "user": pg.user,
                "password": pg.password,
                "dbname": pg.database,
            },
        )
    return Target("duckdb", duckdb_path=str(settings.duckdb_path))


def marts_schema() -> str:
    """The schema dbt builds the marts in: MARTS_SCHEMA, else DBT_SCHEMA_PREFIX + marts."""
    return os.environ.get("MARTS_SCHEMA") or (os.environ.get("DBT_SCHEMA_PREFIX") or "") + "marts"


def raw_schema() -> str:
    return os.environ.get("RAW_SCHEMA") or "raw"


def quote_ident(name: str) -> str:
    """Quote an identifier for both dialects."""
    return '"' + name.replace('"', '""') + '"'


class Database:
    """A connection with the few operations the tools need."""

    def __init__(self, kind: Kind, conn: Any) -> None:
        self.kind = kind
        self.conn = conn
        self.param = "?" if kind == "duckdb" else "%s"

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, list(params))
            names = [d[0] for d in cur.description or []]
            return names, cur.fetchall()
        finally:
            cur.close()

    def tables(self, schema: str) -> list[str]:
        sql = (
            "select table_name from information_schema.tables"
            f" where table_schema = {self.param} and table_catalog = current_database()"
            " order by table_name"
        )
        return [row[0] for row in self.fetch(sql, [schema])[1]]

    def columns(self, schema: str, table: str) -> list[Column]:
        if self.kind == "postgres":
            kind_sql = (
                "case when data_type = 'numeric' and numeric_precision is not null"
                " then 'numeric(' || numeric_precision || ',' || numeric_scale || ')'"
                " else data_type end"
            )
        else:
            kind_sql = "data_type"
        sql = (
            f"select column_name, {kind_sql} from information_schema.columns"
            f" where table_schema = {self.param} and table_name = {self.param}"
            " and table_catalog = current_database() order by ordinal_position"
        )
        return [Column(n, t) for n, t in self.fetch(sql, [schema, table])[1]]

    def close(self) -> None:
        self.conn.close()


def _connect_duckdb(target: Target, read_only: bool) -> Database:
    import duckdb

    from extract.config import duckdb_config

    if read_only and not os.path.exists(target.duckdb_path):
        raise ToolError(not_built(f"DUCKDB_PATH={target.duckdb_path} does not exist"))
    try:
        conn = duckdb.connect(target.duckdb_path, read_only=read_only, config=duckdb_config())
    except duckdb.IOException as exc:
        if is_duckdb_lock(exc):
            raise ToolError(f"cannot open {target.duckdb_path}: {DUCKDB_LOCKED}") from None
        first = str(exc).splitlines()[0]
        raise ToolError(f"cannot open {target.duckdb_path}: {first}") from None
    conn.execute("set TimeZone = 'UTC'")
    conn.execute("set enable_progress_bar = false")
    return Database("duckdb", conn)


def _connect_postgres(target: Target) -> Database:
    import psycopg2

    try:
        conn = psycopg2.connect(connect_timeout=5, **target.pg)
    except psycopg2.OperationalError as exc:
        first = (str(exc).strip().splitlines() or ["no answer"])[0]
        raise ToolError(pg_unreachable(target.describe(), first)) from None
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("set time zone 'UTC'")
    return Database("postgres", conn)


@contextmanager
def connect(target: Target | None = None, read_only: bool = True) -> Iterator[Database]:
    """Open the warehouse named by `target` (default: from the environment)."""
    target = target or target_from_env()
    db = (
        _connect_duckdb(target, read_only)
        if target.kind == "duckdb"
        else _connect_postgres(target)
    )
    try:
        yield db
    finally:
        db.close()


def require_table(db: Database, schema: str, table: str) -> list[Column]:
    """The columns of schema.table, or a one-line error naming what is missing."""
    cols = db.columns(schema, table)
    if not cols:
        known = ", ".join(db.tables(schema)) or "none"
        raise ToolError(not_built(
            f"no table {schema}.{table} in {db.kind} (tables in {schema}: {known})"))
    return cols


Command = Callable[[argparse.Namespace], int]


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number is needed, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def one_line_errors(func: Command) -> Command:
    """Wrap a subcommand so a ToolError prints `error: ...` and exits with its code."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except ToolError as exc:
            report(str(exc), verbose=getattr(args, "verbose", False))
            return exc.code

    return wrapper
