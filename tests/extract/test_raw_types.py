"""Type clashes and new fields: no record is dropped, the table evolves.

The sandbox validates what it stores, so it cannot serve `amount: "abc"`;
these tests feed such records through the same page -> Arrow conversion and
dlt load the extractor uses, into a real DuckDB file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from extract_helpers import query

from extract.freshsales import settings
from extract.freshsales.arrow import ArrowPages

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _deal(i: int, **fields: Any) -> dict[str, Any]:
    record = {"id": 18_000_000_001 + i, "name": f"deal {i}", "amount": "10.50",
              "updated_at": "2024-05-01T10:00:00+05:30", "is_deleted": False, "tags": ["x"],
              "custom_field": {"cf_deal_id": 100001 + i, "cf_deal_stage": "Won"}}
    record.update(fields)
    return record


def _load(path: Path, batches: list[list[dict[str, Any]]]) -> None:
    pages = ArrowPages(settings.ENTITY_COLUMNS["deals"], {})
    tables = [pages.table(batch, [NOW] * len(batch)) for batch in batches]
    pipeline = dlt.pipeline("raw_types", destination=dlt.destinations.duckdb(str(path)),
                            dataset_name="raw", pipelines_dir=str(path.parent / "p"))
    pipeline.run(
        dlt.resource(tables, name="deals", primary_key="id", write_disposition="merge",
                     columns=cast(TTableSchemaColumns, settings.ENTITY_COLUMNS["deals"])),
        loader_file_format="parquet",
    )


def test_a_clashing_value_lands_in_a_variant_column(tmp_path):
    db = tmp_path / "t.duckdb"
    _load(db, [[_deal(0), _deal(1, amount="abc"), _deal(2, amount=12.5, probability="high")]])
    rows = query(db, """select id, amount, amount__v_text, probability__v_text,
                               custom_field__cf_deal_id, updated_at
                        from raw.deals order by id""")
    assert [r[0] for r in rows] == [18_000_000_001, 18_000_000_002, 18_000_000_003]
    assert rows[0][1:3] == (Decimal("10.5"), None)
    assert rows[1][1:3] == (None, "abc")
    assert rows[2][1:4] == (Decimal("12.5"), None, "high")
    assert rows[0][4] == "100001"  # a number in the API, text in raw
    assert rows[0][5] == datetime(2024, 5, 1, 4, 30, tzinfo=UTC)


def test_a_new_api_field_evolves_the_table(tmp_path):
    db = tmp_path / "t.duckdb"
    _load(db, [[_deal(0)], [_deal(1, rotting_days=4, custom_field={"cf_new": "yes"})]])
    rows = query(db, "select id, rotting_days, custom_field__cf_new from raw.deals order by id")
    assert rows == [(18_000_000_001, None, None), (18_000_000_002, 4, "yes")]
    declared = {r[0] for r in query(db, """select column_name from information_schema.columns
                                           where table_name = 'deals'""")}
    assert {"closed_date", "deal_stage_id", "custom_field__cf_probability_of_closure"} <= declared
