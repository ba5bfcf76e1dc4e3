"""Reading an import file row by row: CSV or JSON Lines, with each row's line number.

Pure (no network): ``rows`` turns a file into ``Row``s, each either the record to send
(``payload``) or the reason it cannot be sent (``reason``), with the line it starts on and
the byte offset just after it, so an import can checkpoint a place in the file and resume
from it by seeking, never holding more of the file than one row.

The file is read as bytes line by line and decoded per line with ``surrogateescape``, so a
row that is not UTF-8 is one rejected row, not the end of the import. A CSV file's first
row is its header; a quoted cell may span lines (the row's number is its first line).

CSV cells are typed (``csv_value``): imported attributes have no declared type, and the
offers' criteria compare numbers only with numbers (``gt 100`` is false on ``"150"``), so
a cell written as a JSON number or ``true``/``false`` is sent as one; anything else,
including ``007`` and ``1e5``, stays text. ``--strings`` keeps every cell text.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ATTRIBUTES = "attributes"
MEMBERS = "members"

# Integers and decimals as JSON writes them, at most 15 significant digits: every such
# number survives the trip through a double (the API's JSON numbers) unchanged.
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,14})")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_MAX_SIGNIFICANT = 15


class FileError(Exception):
    """The file cannot be imported at all (no header, no value column): nothing is sent."""


@dataclass(frozen=True)
class Position:
    """A place between rows: the byte offset and the number of the line that starts there."""

    offset: int
    line: int


START = Position(0, 1)


@dataclass(frozen=True)
class Row:
    """One row: ``payload`` to send (a record or a member's value), else ``reason``."""

    line: int
    after: Position
    payload: Any = None
    reason: str = ""


@dataclass(frozen=True)
class Layout:
    """How to read a file: its format, and for CSV the column holding the key's values
    (``value_column``, else the one named like the ``key``; for members, else the only one)."""

    kind: str  # ATTRIBUTES or MEMBERS
    format: str
    value_column: str | None
    key: str
    strings: bool = False


def format_of(path: Path, given: str | None) -> str:
    """``given``, else the format the file's extension names."""
    if given:
        return given
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise FileError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; "
            "name it with --format csv|jsonl"
        )
    return found


def csv_value(cell: str, strings: bool = False) -> object:
    """A CSV cell as the value to import (see the module's docstring)."""
    if strings:
        return cell
    if cell in ("true", "false"):
        return cell == "true"
    if _INTEGER.fullmatch(cell):
        return int(cell)
    if _DECIMAL.fullmatch(cell) and len(cell.lstrip("-0.").replace(".", "")) <= _MAX_SIGNIFICANT:
        return float(cell)
    return cell


def estimated_rows(path: Path, layout: Layout) -> int:
    """The number of lines that may hold rows (exact unless quoted cells span lines or lines
    are blank), counted in blocks: the progress bar's total without parsing the file."""
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"
    return max(0, lines - (layout.format == "csv"))


class _Lines:
    """The file's lines as text, tracking the offset and number of the next one; an
    iterator object (not a generator) so that the csv reader pulls exactly one row's lines."""

    def __init__(self, handle: BinaryIO, at: Position) -> None:
        self._handle = handle
        self.offset = at.offset
        self.line = at.line
        handle.seek(at.offset)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self._handle.readline()
        if not raw:
            raise StopIteration
        text = raw.decode("utf-8", "surrogateescape")
        if self.offset == 0:
            text = text.removeprefix("\ufeff")  # a byte order mark some tools write
        self.offset += len(raw)
        self.line += 1
        return text

    @property
    def position(self) -> Position:
        return Position(self.offset, self.line)


def _utf8(*texts: str) -> bool:
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def rows(path: Path, layout: Layout, start: Position = START) -> Iterator[Row]:
    """The file's rows from ``start`` (a ``Row.after`` of an earlier read, or the start)."""
    with path.open("rb") as handle:
        if layout.format == "csv":
            yield from _csv_rows(path, handle, layout, start)
        else:
            yield from _jsonl_rows(handle, layout, start)


def _header(path: Path, handle: BinaryIO, layout: Layout) -> tuple[list[str], int, Position]:
    """The header's columns, the index of the value column and the place after the header."""
    lines = _Lines(handle, START)
    try:
        header = next(csv.reader(lines, strict=True))
    except StopIteration:
        raise FileError(
            f"{path}: the file is empty (a CSV file starts with a header row)"
        ) from None
    except csv.Error as error:
        raise FileError(f"{path}: line 1: the header is not valid CSV: {error}") from None
    if not _utf8(*header):
        raise FileError(f"{path}: line 1: the header is not UTF-8")
    if len(set(header)) != len(header) or "" in header:
        raise FileError(f"{path}: line 1: the header's column names must be distinct and named")
    if layout.kind == MEMBERS and len(header) == 1 and layout.value_column is None:
        return header, 0, lines.position
    column = layout.value_column or layout.key
    if column not in header:
        raise FileError(
            f"{path}: no column {column!r} in the header (columns: "
            f"{', '.join(header)}); name the column of the key's values with --value-column"
        )
    return header, header.index(column), lines.position


def _csv_rows(path: Path, handle: BinaryIO, layout: Layout, start: Position) -> Iterator[Row]:
    header, value_index, after_header = _header(path, handle, layout)
    lines = _Lines(handle, after_header if start == START else start)
    reader = csv.reader(lines, strict=True)
    while True:
        first = lines.line
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Row(first, lines.position, reason=f"not valid CSV: {error}")
            continue
        if not cells:
            continue  # a blank line
        yield Row(first, lines.position, *_csv_row(header, value_index, cells, layout))


def _csv_row(
    header: list[str], value_index: int, cells: list[str], layout: Layout
) -> tuple[Any, str]:
    if not _utf8(*cells):
        return None, "not UTF-8"
    if len(cells) != len(header):
        return None, f"{len(cells)} cells where the header has {len(header)}"
    value = cells[value_index]
    if not value:
        return None, f"no value in column {header[value_index]!r}"
    if layout.kind == MEMBERS:
        return value, ""
    attributes = {
        name: csv_value(cell, layout.strings)
        for index, (name, cell) in enumerate(zip(header, cells, strict=True))
        if index != value_index and cell != ""  # an empty cell leaves the value as it is
    }
    return {"value": value, "attributes": attributes}, ""


def _jsonl_rows(handle: BinaryIO, layout: Layout, start: Position) -> Iterator[Row]:
    lines = _Lines(handle, start)
    for text in lines:
        line = lines.line - 1
        if not text.strip():
            continue
        if not _utf8(text):
            yield Row(line, lines.position, reason="not UTF-8")
            continue
        try:
            data = json.loads(text)
        except ValueError as error:
            yield Row(line, lines.position, reason=f"not JSON: {error}")
            continue
        payload, reason = (_member if layout.kind == MEMBERS else _record)(data)
        yield Row(line, lines.position, payload, reason)


def _record(data: object) -> tuple[Any, str]:
    if not isinstance(data, dict):
        return None, 'a line holds an object: {"value": ..., "attributes": {...}}'
    extra = sorted(set(data) - {"value", "attributes"})
    if extra:
        return None, f"unexpected {', '.join(map(repr, extra))} (a line holds value, attributes)"
    value, attributes = data.get("value"), data.get("attributes", {})
    if not isinstance(value, str) or not value:
        return None, '"value" is missing or not a non-empty string'
    if not isinstance(attributes, dict):
        return None, '"attributes" is not an object'
    return {"value": value, "attributes": attributes}, ""


def _member(data: object) -> tuple[Any, str]:
    if isinstance(data, dict) and set(data) == {"value"}:
        data = data["value"]
    if not isinstance(data, str) or not data:
        return None, 'a line holds the value as a string, or {"value": "..."}'
    return data, ""
