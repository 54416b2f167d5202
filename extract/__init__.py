"""crm_management: Freshsales -> dlt -> raw -> dbt -> marts.

The small Python API that replaces the original app's service methods
(`ServiceBase.load_to_df`, `find_all`, `find_by_id`, `find_by_field_name`).
It reads the marts of the warehouse the settings name (DBT_TARGET, DUCKDB_PATH
or PG*), read-only::

    from extract import load_to_df, find_by_id, find_by_field_name, find_all

    deals = load_to_df("deals")                      # pandas DataFrame
    deal = find_by_id("deals", 18000000001)          # dict or None
    won = find_by_field_name("deals", "deal_stage", "Closed-Won")  # list of dicts

Heavy imports happen inside the functions, so `import extract` stays cheap
for the sandbox and the extractor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from extract import defaults  # noqa: F401 - process defaults before dlt/pyarrow load

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["find_all", "find_by_field_name", "find_by_id", "load_to_df"]


def load_to_df(table: str, layer: str = "marts") -> pd.DataFrame:
    """A whole table of the marts (or `layer="raw"`) as a DataFrame; decimals stay exact."""
    import pandas as pd

    from extract.tools.db import connect, marts_schema, quote_ident, raw_schema, require_table

    if layer not in {"marts", "raw"}:
        raise ValueError(f"layer must be 'marts' or 'raw', got {layer!r}")
    schema = marts_schema() if layer == "marts" else raw_schema()
    with connect(read_only=True) as db:
        require_table(db, schema, table)
        names, rows = db.fetch(f"select * from {quote_ident(schema)}.{quote_ident(table)}")
    return pd.DataFrame.from_records(rows, columns=names)


def find_all(entity: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Every row of a mart (`accounts`, `contacts`, `deals`) as dicts."""
    from extract.tools.lookup import find

    return find(entity, (), limit)


def find_by_id(entity: str, crm_id: int | str) -> dict[str, Any] | None:
    """The mart row with this CRM id, or None."""
    from extract.tools.lookup import find

    rows = find(entity, [("id", str(crm_id))])
    return rows[0] if rows else None


def find_by_field_name(entity: str, field: str, value: Any) -> list[dict[str, Any]]:
    """Mart rows where `field` equals `value` (cast to the column's type)."""
    from extract.tools.lookup import find

    return find(entity, [(field, "" if value is None else str(value))])
