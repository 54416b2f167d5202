"""read_changes: the upsert file, read strictly. Each test writes a real file and
asserts the one line a user sees, or the rows the tool goes on with."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from extract.tools.changes_file import read_changes
from extract.tools.db import ToolError

DEAL_COLUMNS = (
    "id, deal_id, deal_name, deal_size, probability_of_closure, deal_stage, account_id,"
    " created_at, updated_at"
)
QUOTE = 'close it, and double any quote inside a field ("")'


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def assert_refused(path: Path, message: str, code: int = 2, entity: str = "deals") -> None:
    with pytest.raises(ToolError, match=f"^{re.escape(message)}$") as refused:
        read_changes(path, entity)
    assert refused.value.code == code


# ------------------------------------------------------------------ accepted


def test_reads_a_csv_with_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path, "changes.csv", "deal_id,deal_name,deal_size\n100001,Renewal,12.50\n,New,3\n"
    )
    assert read_changes(path, "deals") == [
        (2, {"deal_id": "100001", "deal_name": "Renewal", "deal_size": "12.50"}),
        (3, {"deal_id": "", "deal_name": "New", "deal_size": "3"}),
    ]


def test_reads_a_csv_with_a_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "changes.csv"
    path.write_bytes(b"\xef\xbb\xbfdeal_id,deal_stage\r\n100001,Won\r\n100002,Lost\r\n")
    assert read_changes(path, "deals") == [
        (2, {"deal_id": "100001", "deal_stage": "Won"}),
        (3, {"deal_id": "100002", "deal_stage": "Lost"}),
    ]


def test_quoted_commas_and_doubled_quotes_stay_in_their_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", 'deal_id,deal_name\n100001,"Acme, Inc. ""EU"""\n')
    assert read_changes(path, "deals") == [
        (2, {"deal_id": "100001", "deal_name": 'Acme, Inc. "EU"'})
    ]


def test_header_names_are_stripped_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", " deal_id , deal_name\n\n100001,Renewal\n\n")
    assert read_changes(path, "deals") == [(3, {"deal_id": "100001", "deal_name": "Renewal"})]


def test_each_entity_has_its_own_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "account_id,region\nA-1,EMEA\n")
    assert read_changes(path, "accounts") == [(2, {"account_id": "A-1", "region": "EMEA"})]


def test_reads_a_json_array_with_the_line_each_object_starts_on(tmp_path: Path) -> None:
    text = (
        "[\n"
        '  {"deal_id": "100001", "deal_name": "Renewal", "deal_stage": null},\n'
        "  {\n"
        '    "deal_id": null,\n'
        '    "deal_name": "New"\n'
        "  }\n"
        "]\n"
    )
    assert read_changes(write(tmp_path, "changes.json", text), "deals") == [
        (2, {"deal_id": "100001", "deal_name": "Renewal", "deal_stage": ""}),
        (3, {"deal_id": "", "deal_name": "New"}),
    ]


def test_json_numbers_and_booleans_keep_their_exact_text(tmp_path: Path) -> None:
    text = (
        '[{"deal_id": 100001, "deal_size": 12.50, "probability_of_closure": 1E2,'
        ' "deal_name": true, "deal_stage": false},\n'
        ' {"deal_id": 100002, "deal_size": 12345678901234567890.123456789}]'
    )
    assert read_changes(write(tmp_path, "changes.json", text), "deals") == [
        (
            1,
            {
                "deal_id": "100001",
                "deal_size": "12.50",
                "probability_of_closure": "1E2",
                "deal_name": "true",
                "deal_stage": "false",
            },
        ),
        (2, {"deal_id": "100002", "deal_size": "12345678901234567890.123456789"}),
    ]


def test_empty_business_keys_may_repeat_they_each_create(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "deal_id,deal_name\n,One\n ,Two\n")
    assert [line for line, _ in read_changes(path, "deals")] == [2, 3]


# ------------------------------------------------------------------ the file


def test_refuses_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert_refused(path, f"{path}: no such file; check the path")


def test_refuses_another_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.txt", "deal_id\n1\n")
    assert_refused(path, f"{path}: a changes file ends in .csv or .json; rename it to say which")


def test_refuses_an_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "\n")
    assert_refused(
        path, f"{path} is empty; write a header and one row per record (or a JSON array)"
    )


def test_a_header_without_rows_is_nothing_to_change(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "deal_id,deal_name\n")
    assert_refused(path, f"{path} has a header but no rows; nothing to change", code=1)


def test_an_empty_json_array_is_nothing_to_change(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", "[ ]\n")
    assert_refused(path, f"{path} holds an empty array; nothing to change", code=1)


def test_refuses_bytes_that_are_not_utf8_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "changes.csv"
    path.write_bytes("deal_id,deal_name\n1,Caf\n2,Café\n".encode("latin-1"))
    assert_refused(path, f"{path}, line 3: byte 0xe9 is not UTF-8; save it as UTF-8")


# ------------------------------------------------------------------ CSV quotes and cells


def test_refuses_a_quote_that_swallows_the_following_rows(tmp_path: Path) -> None:
    text = 'deal_id,deal_name\n100001,Renewal\n100002,"Upsell\n100003,Other\n100004,Last\n'
    path = write(tmp_path, "changes.csv", text)
    assert_refused(path, f"{path}, line 3: a quote is not closed on this line; {QUOTE}")


def test_refuses_a_quote_not_closed_on_the_last_line(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", 'deal_id,deal_name\n100001,"Renewal')
    assert_refused(path, f"{path}, line 2: a quote is not closed on this line; {QUOTE}")


def test_a_stray_quote_closed_lines_later_is_blamed_on_its_own_line(tmp_path: Path) -> None:
    text = 'deal_id,deal_name\n100001,"Renewal\n100002,Upsell\n100003,"Big" deal\n'
    path = write(tmp_path, "changes.csv", text)
    assert_refused(path, f"{path}, line 2: a quote is not closed on this line; {QUOTE}")


def test_refuses_text_after_a_closing_quote(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", 'deal_id,deal_name\n100001,"Big" deal\n')
    assert_refused(
        path,
        f"{path}, line 2: text after a closing quote;"
        ' quote the whole field and double the quotes inside it ("")',
    )


def test_refuses_a_line_break_inside_a_closed_quoted_field(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", 'deal_id,deal_name\n100001,"Two\nlines"\n100002,x\n')
    assert_refused(
        path,
        f"{path}, line 2, column deal_name: a line break inside a field;"
        " mart values never hold one: remove it, or close the quote on this line",
    )


def test_refuses_a_row_with_more_cells_than_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "deal_id,deal_name\n100001,Renewal\n100002,Acme, Inc\n")
    assert_refused(
        path,
        f"{path}, line 3: 3 cells, but the header has 2 columns;"
        " give one cell per column and quote cells that hold a comma",
    )


def test_refuses_a_row_with_fewer_cells_than_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "deal_id,deal_name,deal_size\n100001,Renewal\n")
    assert_refused(
        path,
        f"{path}, line 2: 2 cells, but the header has 3 columns;"
        " give one cell per column and quote cells that hold a comma",
    )


def test_refuses_a_field_over_the_limit_naming_its_column(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", f"deal_id,deal_name\n100001,ok\n100002,{'x' * 10_001}\n")
    assert_refused(
        path,
        f"{path}, line 3, column deal_name: 10001 characters, over the limit of 10000; shorten it",
    )


def test_a_field_over_csvs_own_limit_is_one_line_and_the_limit_is_restored(
    tmp_path: Path,
) -> None:
    limit = csv.field_size_limit()
    path = write(tmp_path, "changes.csv", f"deal_id,deal_name\n100001,{'x' * 200_000}\n")
    assert_refused(
        path,
        f"{path}, line 2, column deal_name: 200000 characters, over the limit of 10000; shorten it",
    )
    assert csv.field_size_limit() == limit


# ------------------------------------------------------------------ CSV header


def test_refuses_a_header_name_given_twice(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "deal_id,deal_name, deal_name \n100001,a,b\n")
    assert_refused(
        path, f"{path}, line 1: column 'deal_name' appears twice in the header; keep one"
    )


def test_refuses_an_empty_header_name(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "deal_id, ,deal_name\n100001,x,Renewal\n")
    assert_refused(
        path, f"{path}, line 1: column 2 of the header has no name; name it or delete the column"
    )


def test_refuses_an_unknown_header_name_listing_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "deal_id,dael_name\n100001,Renewal\n")
    assert_refused(
        path,
        f"{path}, line 1: 'dael_name' is not a column of mart deals; use one of: {DEAL_COLUMNS}",
    )


def test_refuses_a_header_without_the_business_key(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.csv", "id,deal_name\n7,Renewal\n")
    assert_refused(
        path,
        f"{path}, line 1: the header has no deal_id column;"
        " add it (an empty deal_id creates a record)",
    )


def test_refuses_a_business_key_on_two_rows(tmp_path: Path) -> None:
    text = "deal_id,deal_name\n100003,a\n100004,b\n,c\n,d\n100005,e\n 100003 ,f\n"
    path = write(tmp_path, "changes.csv", text)
    assert_refused(
        path, f"{path}, line 7: deal_id 100003 is also on line 2; a file names each record once"
    )


# ------------------------------------------------------------------ JSON


def test_refuses_invalid_json_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", '[\n  {"deal_id": 1},\n  {"deal_id": 2,}\n]\n')
    assert_refused(
        path,
        f"{path}, line 3: not valid JSON"
        " (Expecting property name enclosed in double quotes at character 17); fix it",
    )


def test_refuses_nan_which_python_would_accept(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", '[\n  {"deal_id": 1, "deal_size": NaN}\n]')
    assert_refused(path, f"{path}, line 2: NaN is not a JSON value; write a number or null")


def test_refuses_a_top_level_that_is_not_an_array(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", '\n{"deal_id": 1}\n')
    assert_refused(
        path, f"{path}, line 2: the top level is an object, not an array; put the records in [ ]"
    )


def test_refuses_an_element_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", '[\n  {"deal_id": 1},\n  "deal_id=2"\n]')
    assert_refused(
        path,
        f"{path}, line 3: an element is a string, not an object;"
        ' give one {"column": value, ...} object per record',
    )


def test_refuses_a_key_twice_in_one_object(tmp_path: Path) -> None:
    path = write(
        tmp_path, "changes.json", '[\n  {"deal_id": 1, "deal_name": "a", "deal_name": "b"}]'
    )
    assert_refused(path, f"{path}, line 2: key 'deal_name' appears twice in one object; keep one")


def test_refuses_an_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", '[{"deal_id": 1},\n {"deal_id": 2, "stage": "Won"}]')
    assert_refused(
        path, f"{path}, line 2: 'stage' is not a column of mart deals; use one of: {DEAL_COLUMNS}"
    )


@pytest.mark.parametrize(("value", "kind"), [('{"amount": 5}', "an object"), ("[5]", "an array")])
def test_refuses_a_value_that_is_an_object_or_array(tmp_path: Path, value: str, kind: str) -> None:
    path = write(tmp_path, "changes.json", f'[\n{{"deal_id": 1, "deal_size": {value}}}]')
    assert_refused(
        path,
        f"{path}, line 2, column deal_size: the value is {kind};"
        " give text, a number, true, false or null",
    )


def test_refuses_an_object_without_the_business_key(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", '[{"deal_id": 1},\n\n {"deal_name": "New"}]')
    assert_refused(
        path,
        f'{path}, line 3: the object has no "deal_id" key; add it (null or "" creates a record)',
    )


def test_refuses_an_oversized_json_string(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", f'[{{"deal_id": 1, "deal_name": "{"x" * 10_001}"}}]')
    assert_refused(
        path,
        f"{path}, line 1, column deal_name: 10001 characters, over the limit of 10000; shorten it",
    )


def test_refuses_a_line_break_inside_a_json_string(tmp_path: Path) -> None:
    path = write(tmp_path, "changes.json", '[{"deal_id": 1, "deal_name": "Two\\nlines"}]')
    assert_refused(
        path,
        f"{path}, line 1, column deal_name: a line break inside a value;"
        " mart values never hold one: remove it",
    )


def test_refuses_a_json_business_key_twice_as_number_and_text(tmp_path: Path) -> None:
    text = '[\n  {"deal_id": 100003},\n  {"deal_id": null},\n  {"deal_id": "100003"}\n]'
    path = write(tmp_path, "changes.json", text)
    assert_refused(
        path, f"{path}, line 4: deal_id 100003 is also on line 2; a file names each record once"
    )
