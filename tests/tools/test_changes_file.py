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


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


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
    path = write(
        tmp_path, "changes.csv", b"\xef\xbb\xbfdeal_id,deal_stage\r\n100001,Won\r\n100002,Lost\r\n"
    )
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


# ------------------------------------------------------------------ refused
#
# Each row: the file's name, what it holds (None: no file at all), the one line the user
# sees ("{path}" stands for the file's path) and the exit code.


def assert_refused(path: Path, message: str, code: int = 2, entity: str = "deals") -> None:
    with pytest.raises(ToolError, match=f"^{re.escape(message)}$") as refused:
        read_changes(path, entity)
    assert refused.value.code == code


# the file itself, whatever it holds
FILE_REFUSALS = [
    pytest.param("nope.csv", None, "{path}: no such file; check the path", 2, id="missing"),
    pytest.param(
        "changes.txt",
        "deal_id\n1\n",
        "{path}: a changes file ends in .csv or .json; rename it to say which",
        2,
        id="other-suffix",
    ),
    pytest.param(
        "changes.csv",
        "\n",
        "{path} is empty; write a header and one row per record (or a JSON array)",
        2,
        id="empty-file",
    ),
    pytest.param(
        "changes.csv",
        "deal_id,deal_name\n",
        "{path} has a header but no rows; nothing to change",
        1,
        id="header-without-rows",
    ),
    pytest.param(
        "changes.json",
        "[ ]\n",
        "{path} holds an empty array; nothing to change",
        1,
        id="empty-json-array",
    ),
    pytest.param(
        "changes.csv",
        "deal_id,deal_name\n1,Caf\n2,Café\n".encode("latin-1"),
        "{path}, line 3: byte 0xe9 is not UTF-8; save it as UTF-8",
        2,
        id="not-utf8-names-the-line",
    ),
]


# CSV: quotes, cells and the header
CSV_REFUSALS = [
    pytest.param(
        "changes.csv",
        'deal_id,deal_name\n100001,Renewal\n100002,"Upsell\n100003,Other\n100004,Last\n',
        "{path}, line 3: a quote is not closed on this line; " + QUOTE,
        2,
        id="unclosed-quote-swallows-following-rows",
    ),
    pytest.param(
        "changes.csv",
        'deal_id,deal_name\n100001,"Renewal',
        "{path}, line 2: a quote is not closed on this line; " + QUOTE,
        2,
        id="unclosed-quote-on-last-line",
    ),
    pytest.param(
        "changes.csv",
        'deal_id,deal_name\n100001,"Renewal\n100002,Upsell\n100003,"Big" deal\n',
        "{path}, line 2: a quote is not closed on this line; " + QUOTE,
        2,
        id="stray-quote-closed-lines-later-blamed-on-its-own-line",
    ),
    pytest.param(
        "changes.csv",
        'deal_id,deal_name\n100001,"Big" deal\n',
        "{path}, line 2: text after a closing quote;"
        ' quote the whole field and double the quotes inside it ("")',
        2,
        id="text-after-closing-quote",
    ),
    pytest.param(
        "changes.csv",
        'deal_id,deal_name\n100001,"Two\nlines"\n100002,x\n',
        "{path}, line 2, column deal_name: a line break inside a field;"
        " mart values never hold one: remove it, or close the quote on this line",
        2,
        id="line-break-inside-closed-quoted-field",
    ),
    pytest.param(
        "changes.csv",
        "deal_id,deal_name\n100001,Renewal\n100002,Acme, Inc\n",
        "{path}, line 3: 3 cells, but the header has 2 columns;"
        " give one cell per column and quote cells that hold a comma",
        2,
        id="more-cells-than-header",
    ),
    pytest.param(
        "changes.csv",
        "deal_id,deal_name,deal_size\n100001,Renewal\n",
        "{path}, line 2: 2 cells, but the header has 3 columns;"
        " give one cell per column and quote cells that hold a comma",
        2,
        id="fewer-cells-than-header",
    ),
    pytest.param(
        "changes.csv",
        f"deal_id,deal_name\n100001,ok\n100002,{'x' * 10_001}\n",
        "{path}, line 3, column deal_name: 10001 characters, over the limit of 10000; shorten it",
        2,
        id="field-over-limit-names-its-column",
    ),
    pytest.param(
        "changes.csv",
        "deal_id,deal_name, deal_name \n100001,a,b\n",
        "{path}, line 1: column 'deal_name' appears twice in the header; keep one",
        2,
        id="header-name-twice",
    ),
    pytest.param(
        "changes.csv",
        "deal_id, ,deal_name\n100001,x,Renewal\n",
        "{path}, line 1: column 2 of the header has no name; name it or delete the column",
        2,
        id="empty-header-name",
    ),
    pytest.param(
        "changes.csv",
        "deal_id,dael_name\n100001,Renewal\n",
        "{path}, line 1: 'dael_name' is not a column of mart deals; use one of: " + DEAL_COLUMNS,
        2,
        id="unknown-header-name-lists-the-columns",
    ),
    pytest.param(
        "changes.csv",
        "id,deal_name\n7,Renewal\n",
        "{path}, line 1: the header has no deal_id column;"
        " add it (an empty deal_id creates a record)",
        2,
        id="header-without-business-key",
    ),
    pytest.param(
        "changes.csv",
        "deal_id,deal_name\n100003,a\n100004,b\n,c\n,d\n100005,e\n 100003 ,f\n",
        "{path}, line 7: deal_id 100003 is also on line 2; a file names each record once",
        2,
        id="business-key-on-two-rows",
    ),
]


# JSON: syntax, shape, keys and values
JSON_REFUSALS = [
    pytest.param(
        "changes.json",
        '[\n  {"deal_id": 1},\n  {"deal_id": 2,}\n]\n',
        "{path}, line 3: not valid JSON"
        " (Expecting property name enclosed in double quotes at character 17); fix it",
        2,
        id="invalid-json-with-its-position",
    ),
    pytest.param(
        "changes.json",
        '[\n  {"deal_id": 1, "deal_size": NaN}\n]',
        "{path}, line 2: NaN is not a JSON value; write a number or null",
        2,
        id="nan-which-python-would-accept",
    ),
    pytest.param(
        "changes.json",
        '\n{"deal_id": 1}\n',
        "{path}, line 2: the top level is an object, not an array; put the records in [ ]",
        2,
        id="top-level-not-an-array",
    ),
    pytest.param(
        "changes.json",
        '[\n  {"deal_id": 1},\n  "deal_id=2"\n]',
        "{path}, line 3: an element is a string, not an object;"
        ' give one {"column": value, ...} object per record',
        2,
        id="element-not-an-object",
    ),
    pytest.param(
        "changes.json",
        '[\n  {"deal_id": 1, "deal_name": "a", "deal_name": "b"}]',
        "{path}, line 2: key 'deal_name' appears twice in one object; keep one",
        2,
        id="key-twice-in-one-object",
    ),
    pytest.param(
        "changes.json",
        '[{"deal_id": 1},\n {"deal_id": 2, "stage": "Won"}]',
        "{path}, line 2: 'stage' is not a column of mart deals; use one of: " + DEAL_COLUMNS,
        2,
        id="unknown-key",
    ),
    pytest.param(
        "changes.json",
        '[\n{"deal_id": 1, "deal_size": {"amount": 5}}]',
        "{path}, line 2, column deal_size: the value is an object;"
        " give text, a number, true, false or null",
        2,
        id="value-is-an-object",
    ),
    pytest.param(
        "changes.json",
        '[\n{"deal_id": 1, "deal_size": [5]}]',
        "{path}, line 2, column deal_size: the value is an array;"
        " give text, a number, true, false or null",
        2,
        id="value-is-an-array",
    ),
    pytest.param(
        "changes.json",
        '[{"deal_id": 1},\n\n {"deal_name": "New"}]',
        '{path}, line 3: the object has no "deal_id" key; add it (null or "" creates a record)',
        2,
        id="object-without-business-key",
    ),
    pytest.param(
        "changes.json",
        f'[{{"deal_id": 1, "deal_name": "{"x" * 10_001}"}}]',
        "{path}, line 1, column deal_name: 10001 characters, over the limit of 10000; shorten it",
        2,
        id="oversized-string",
    ),
    pytest.param(
        "changes.json",
        '[{"deal_id": 1, "deal_name": "Two\\nlines"}]',
        "{path}, line 1, column deal_name: a line break inside a value;"
        " mart values never hold one: remove it",
        2,
        id="line-break-inside-a-string",
    ),
    pytest.param(
        "changes.json",
        '[\n  {"deal_id": 100003},\n  {"deal_id": null},\n  {"deal_id": "100003"}\n]',
        "{path}, line 4: deal_id 100003 is also on line 2; a file names each record once",
        2,
        id="business-key-twice-as-number-and-text",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "message", "code"), FILE_REFUSALS + CSV_REFUSALS + JSON_REFUSALS
)
def test_refuses(
    tmp_path: Path, name: str, content: str | bytes | None, message: str, code: int
) -> None:
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    assert_refused(path, message.replace("{path}", str(path)), code)


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
