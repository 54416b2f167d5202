"""The marts' rules a value must meet before the tools write it to the CRM.

`contract.cast_value` gives a value its mart type and canonical enum spelling
(and refuses NULL in a required column). These are the rules on top, each a
rule the marts hold their rows to:

- a foreign key names an existing record: a column with a `relationships`
  test in the mart contract (`deals.account_id` -> `accounts.account_id`) is
  looked up in that mart, so a write never turns a record into an orphan;
- `deals.probability_of_closure` is a whole percentage from 0 to 100, written
  as the CRM field holds it: `"40%"` in the original tenant's text custom
  field, `40` in Freshsales' own `probability`.

Each refusal is a ToolError with one line naming the field, the value and what
is allowed.
"""

from __future__ import annotations

import re
from typing import Any

from extract.tools.contract import ColumnSpec, FieldSource
from extract.tools.db import Database, ToolError, marts_schema, quote_ident

PERCENT = re.compile(r"^\s*(\d{1,3})\s*%?\s*$")
PERCENT_COLUMNS = {("deals", "probability_of_closure")}
INTEGER_FIELDS = {"probability"}  # Freshsales fields that take a number, not text


def checked(db: Database, entity: str, spec: ColumnSpec, source: FieldSource | None,
            value: Any) -> Any:
    """`value` (already cast) after the marts' rules, in its canonical form."""
    if value is None:
        return None
    if (entity, spec.name) in PERCENT_COLUMNS:
        value = percent(entity, spec.name, value, source)
    if spec.references is not None:
        require_existing(db, entity, spec.name, spec.references, value)
    return value


def percent(entity: str, column: str, value: Any, source: FieldSource | None) -> str:
    match = PERCENT.match(str(value))
    number = int(match.group(1)) if match else -1
    if not 0 <= number <= 100:
        raise ToolError(
            f"{entity}.{column} is a whole percentage from 0 to 100 (e.g. 40%); got {value!r}"
        )
    custom = source is None or source.field not in INTEGER_FIELDS
    return f"{number}%" if custom else str(number)


def require_existing(db: Database, entity: str, column: str, target: tuple[str, str],
                     value: Any) -> None:
    mart, field = target
    table = f"{quote_ident(marts_schema())}.{quote_ident(mart)}"
    _, rows = db.fetch(
        f"select count(*) from {table} where {quote_ident(field)} = {db.param}", [value])
    if not rows or not rows[0][0]:
        raise ToolError(
            f"{entity}.{column} {value} names no record of {marts_schema()}.{mart} "
            f"({field}); use an existing {field} (`python -m extract find {mart}`)"
        )
