"""Read the file of `upsert` strictly: a .csv whose header names mart columns, or
a .json array of objects whose keys name mart columns.

"Strict" means the file is either read exactly as written or refused whole,
never guessed at: every problem raises a one-line `ToolError` that names the
file, the line (and the column where there is one) and what to do, and no row
is returned. Refused: a file that is missing, empty, not .csv/.json or not
UTF-8 (a BOM is fine); in CSV, a quote that is not closed on its line, text
after a closing quote, a row with more or fewer cells than the header, an
empty, duplicated or unknown header name, a header without the business key;
in JSON, invalid JSON (NaN and Infinity included), a top level that is not an
array, an element that is not an object, a key twice in one object, an
unknown key, a value that is an object or array, an object without the
business key; in both, a line break inside a value (mart values never hold
one), a value over MAX_FIELD_CHARS characters, a business key on two rows.
Blank CSV lines are skipped; cells and JSON strings are returned unstripped.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from extract.tools.contract import BUSINESS_KEYS, check_entity, field_sources, mart_contract
from extract.tools.db import ToolError

MAX_FIELD_CHARS = 10_000
QUOTE_HINT = 'close it, and double any quote inside a field ("")'
CSV_BREAK = "a line break inside a field; mart values never hold one: remove it"
JSON_BREAK = "a line break inside a value; mart values never hold one: remove it"
Row = tuple[int, dict[str, str]]


def read_changes(path: Path, entity: str) -> list[Row]:
    """(line number, {column: text}) per record of a .csv or .json changes file.

    The line of a CSV row is its physical line; the line of a JSON row is the
    line where its object starts.
    """
    check_entity(entity)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".json"}:
        raise ToolError(f"{path}: a changes file ends in .csv or .json; rename it to say which")
    text = _read_text(path)
    rows = _csv_rows(path, text, entity) if suffix == ".csv" else _json_rows(path, text, entity)
    _check_unique_keys(path, entity, rows)
    return rows


# ------------------------------------------------------------------ both formats


def _read_text(path: Path) -> str:
    if not path.exists():
        raise ToolError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise ToolError(f"{path}: not a file; give the path of a .csv or .json file")
    try:
        data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    except OSError as exc:
        raise ToolError(f"{path}: cannot read it ({exc.strerror}); check its permissions") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise ToolError(
            f"{path}, line {line}: byte 0x{byte:02x} is not UTF-8; save it as UTF-8"
        ) from None
    if not text.strip():
        raise ToolError(f"{path} is empty; write a header and one row per record (or a JSON array)")
    return text


def _check_text(path: Path, line: int, column: str, text: str, line_break: str) -> None:
    if "\n" in text or "\r" in text:
        raise ToolError(f"{path}, line {line}, column {column}: {line_break}")
    if len(text) > MAX_FIELD_CHARS:
        raise ToolError(
            f"{path}, line {line}, column {column}: {len(text)} characters,"
            f" over the limit of {MAX_FIELD_CHARS}; shorten it"
        )


def _check_known(path: Path, line: int, names: list[str], entity: str) -> None:
    # The mart's columns that come from a CRM field (and the CRM id): the ones a
    # change can write. Derived columns (deal_size_base, owner_id, ...) are not.
    sources = field_sources(entity)
    columns = [name for name in mart_contract(entity) if name == "id" or name in sources]
    for name in names:
        if name not in columns:
            raise ToolError(
                f"{path}, line {line}: {name!r} is not a column of mart {entity};"
                f" use one of: {', '.join(columns)}"
            )


def _check_unique_keys(path: Path, entity: str, rows: list[Row]) -> None:
    key = BUSINESS_KEYS[entity]
    seen: dict[str, int] = {}
    for line, row in rows:
        value = row.get(key, "").strip()
        if value in seen:
            raise ToolError(
                f"{path}, line {line}: {key} {value} is also on line {seen[value]};"
                " a file names each record once"
            )
        if value:  # an empty key means "create": any number of those
            seen[value] = line


# ------------------------------------------------------------------ CSV


def _csv_rows(path: Path, text: str, entity: str) -> list[Row]:
    (header_line, header), *records = _csv_records(path, text)
    names = _csv_header(path, header_line, header, entity)
    rows = []
    for line, cells in records:
        _check_cells(path, line, names, cells)
        if len(cells) != len(names):
            raise ToolError(
                f"{path}, line {line}: {len(cells)} cells, but the header has {len(names)}"
                " columns; give one cell per column and quote cells that hold a comma"
            )
        rows.append((line, dict(zip(names, cells, strict=True))))
    if not rows:
        raise ToolError(f"{path} has a header but no rows; nothing to change", code=1)
    return rows


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """csv's field limit is process-wide: raise it for one read, then put it back."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _csv_records(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) of each non-blank record. csv never refuses a long
    field here (the limit is the file's size): _check_text does, naming the column."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    with _csv_field_limit(len(text) + 1):
        try:
            for cells in reader:
                if cells:
                    records.append((start, cells))
                start = reader.line_num + 1
        except csv.Error as exc:
            _csv_error(path, start, reader.line_num, exc)
    return records


def _csv_error(path: Path, start: int, line: int, exc: csv.Error) -> NoReturn:
    message = str(exc)
    if line > start or message == "unexpected end of data":
        raise ToolError(f"{path}, line {start}: a quote is not closed on this line; {QUOTE_HINT}")
    if "expected after" in message:
        raise ToolError(
            f"{path}, line {line}: text after a closing quote;"
            ' quote the whole field and double the quotes inside it ("")'
        )
    raise ToolError(f"{path}, line {line}: {message}; fix this line")


def _check_cells(path: Path, line: int, names: list[str], cells: list[str]) -> None:
    for index, cell in enumerate(cells):
        column = names[index] if index < len(names) else str(index + 1)
        _check_text(path, line, column, cell, f"{CSV_BREAK}, or close the quote on this line")


def _csv_header(path: Path, line: int, header: list[str], entity: str) -> list[str]:
    _check_cells(path, line, [], header)
    names = [cell.strip() for cell in header]
    for index, name in enumerate(names):
        if not name:
            raise ToolError(
                f"{path}, line {line}: column {index + 1} of the header has no name;"
                " name it or delete the column"
            )
        if name in names[:index]:
            raise ToolError(
                f"{path}, line {line}: column {name!r} appears twice in the header; keep one"
            )
    _check_known(path, line, names, entity)
    key = BUSINESS_KEYS[entity]
    if key not in names:
        raise ToolError(
            f"{path}, line {line}: the header has no {key} column;"
            f" add it (an empty {key} creates a record)"
        )
    return names


# ------------------------------------------------------------------ JSON

JSON_SPACE = " \t\n\r"


class _Refused(Exception):
    """Raised by the JSON hooks; read_changes adds the file and line."""


def _json_rows(path: Path, text: str, entity: str) -> list[Row]:
    plain = _json_array(path, text)
    rows = []
    for (line, element), as_loaded in zip(_json_elements(path, text), plain, strict=True):
        if not isinstance(element, dict):
            raise ToolError(
                f"{path}, line {line}: an element is {_kind(as_loaded)}, not an object;"
                ' give one {"column": value, ...} object per record'
            )
        rows.append((line, _json_row(path, line, element, entity)))
    if not rows:
        raise ToolError(f"{path} holds an empty array; nothing to change", code=1)
    return rows


def _json_array(path: Path, text: str) -> list[Any]:
    """The file parsed as plain JSON: its syntax errors, and a top level that is no array."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError(
            f"{path}, line {exc.lineno}: not valid JSON ({exc.msg} at character {exc.colno});"
            " fix it"
        ) from None
    if not isinstance(data, list):
        line = text.count("\n", 0, _skip_space(text, 0)) + 1
        raise ToolError(
            f"{path}, line {line}: the top level is {_kind(data)}, not an array;"
            " put the records in [ ]"
        )
    return data


def _json_elements(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """(line where it starts, value) of each element of the valid top-level array,
    decoded with hooks that keep numbers as written and refuse duplicate keys."""
    decoder = json.JSONDecoder(
        object_pairs_hook=_json_object,
        parse_int=str,
        parse_float=str,
        parse_constant=_json_constant,
    )
    index = _skip_space(text, _skip_space(text, 0) + 1)  # past the "["
    line, counted = 1, 0
    while text[index] != "]":
        line, counted = line + text.count("\n", counted, index), index
        try:
            value, end = decoder.raw_decode(text, index)
        except _Refused as exc:
            raise ToolError(f"{path}, line {line}: {exc}") from None
        yield line, value
        index = _skip_space(text, end)
        if text[index] == ",":
            index = _skip_space(text, index + 1)


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in JSON_SPACE:
        index += 1
    return index


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Refused(f"key {key!r} appears twice in one object; keep one")
        obj[key] = value
    return obj


def _json_constant(name: str) -> NoReturn:
    raise _Refused(f"{name} is not a JSON value; write a number or null")


def _json_row(path: Path, line: int, obj: dict[str, Any], entity: str) -> dict[str, str]:
    _check_known(path, line, list(obj), entity)
    key = BUSINESS_KEYS[entity]
    if key not in obj:
        raise ToolError(
            f'{path}, line {line}: the object has no "{key}" key;'
            ' add it (null or "" creates a record)'
        )
    return {name: _json_text(path, line, name, value) for name, value in obj.items()}


def _json_text(path: Path, line: int, column: str, value: Any) -> str:
    """The text a CSV cell would hold: null -> "", true -> "true", numbers as written."""
    if isinstance(value, dict | list):
        raise ToolError(
            f"{path}, line {line}, column {column}: the value is {_kind(value)};"
            " give text, a number, true, false or null"
        )
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = value  # a string, or a number kept as its JSON text by the hooks
    _check_text(path, line, column, text, JSON_BREAK)
    return text


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "a number"
