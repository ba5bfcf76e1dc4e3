"""Reading import files and cutting them into batches, without a suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.admin_client import AdminError
from services.cli import import_batches
from services.cli.import_batches import Target, batches, refused_index, send
from services.cli.import_files import (
    ATTRIBUTES,
    MEMBERS,
    START,
    FileError,
    Layout,
    Row,
    csv_value,
    estimated_rows,
    rows,
)

ATTRS_CSV = Layout(ATTRIBUTES, "csv", None, "member_id")


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param("42", 42, id="integer"),
        pytest.param("-3", -3, id="negative"),
        pytest.param("2.50", 2.5, id="decimal"),
        pytest.param("true", True, id="true"),
        pytest.param("false", False, id="false"),
        pytest.param("007", "007", id="leading-zero-stays-text"),
        pytest.param("1e5", "1e5", id="exponent-stays-text"),
        pytest.param("1234567890123456", "1234567890123456", id="16-digits-stay-text"),
        pytest.param("0.1234567890123456", "0.1234567890123456", id="long-decimal-stays-text"),
        pytest.param("True", "True", id="capitalised-stays-text"),
        pytest.param("gold", "gold", id="text"),
        pytest.param(" 42", " 42", id="padded-stays-text"),
    ],
)
def test_csv_cells_are_numbers_or_booleans_only_when_written_as_json_writes_them(
    cell: str, expected: object
) -> None:
    assert csv_value(cell) == expected
    assert type(csv_value(cell)) is type(expected)
    assert csv_value(cell, strings=True) == cell


def test_csv_rows_carry_their_first_line_and_bad_rows_are_reasons(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        b"\xef\xbb\xbfmember_id,tier,points\r\n"  # a byte order mark, CRLF line ends
        b"m1,gold,10\r\n"
        b'm2,"two\nlines",\n'  # a quoted cell spans lines 3-4; an empty cell is left out
        b"\n"
        b"m3,silver\n"  # line 6: a cell short
        b",bronze,1\n"  # line 7: no value
        b'm4,"bad"x,1\n'  # line 8: not CSV
        b"m5,\xff,1\n"  # line 9: not UTF-8
        b"m6,gold,7",  # no line end at the end
    )
    got = [(row.line, row.payload, row.reason) for row in rows(path, ATTRS_CSV)]
    assert got == [
        (2, {"value": "m1", "attributes": {"tier": "gold", "points": 10}}, ""),
        (3, {"value": "m2", "attributes": {"tier": "two\nlines"}}, ""),
        (6, None, "2 cells where the header has 3"),
        (7, None, "no value in column 'member_id'"),
        (8, None, "not valid CSV: ',' expected after '\"'"),
        (9, None, "not UTF-8"),
        (10, {"value": "m6", "attributes": {"tier": "gold", "points": 7}}, ""),
    ]
    assert estimated_rows(path, ATTRS_CSV) == 9


def test_reading_from_a_rows_after_position_continues_with_the_next_row(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "tier,member_id\ngold,m1\nsilver,m2\nbronze,m3\n")
    first = list(rows(path, ATTRS_CSV))
    again = list(rows(path, ATTRS_CSV, first[0].after))
    assert [row.line for row in again] == [3, 4]
    assert again == first[1:]


def test_jsonl_rows_and_their_reasons(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.jsonl",
        '{"value": "m1", "attributes": {"tier": "gold", "points": 1.5}}\n'
        "{oops\n"
        "\n"
        '{"value": ""}\n'
        '{"value": "m2", "attrs": {}}\n'
        '{"value": "m3"}\n',
    )
    layout = Layout(ATTRIBUTES, "jsonl", None, "member_id")
    got = [(row.line, row.payload, row.reason[:30]) for row in rows(path, layout)]
    assert got == [
        (1, {"value": "m1", "attributes": {"tier": "gold", "points": 1.5}}, ""),
        (2, None, "not JSON: Expecting property n"),
        (4, None, '"value" is missing or not a no'),
        (5, None, "unexpected 'attrs' (a line hol"),
        (6, {"value": "m3", "attributes": {}}, ""),
    ]


def test_members_from_a_single_column_or_a_named_one(tmp_path: Path) -> None:
    single = write(tmp_path, "m.csv", "whatever\nm1\nm2\n")
    assert [r.payload for r in rows(single, Layout(MEMBERS, "csv", None, "member_id"))] == [
        "m1",
        "m2",
    ]
    several = write(tmp_path, "n.csv", "name,member_id\nAnn,m1\n")
    assert [r.payload for r in rows(several, Layout(MEMBERS, "csv", None, "member_id"))] == ["m1"]
    lines = write(tmp_path, "m.jsonl", '"m1"\n{"value": "m2"}\n3\n')
    got = [(r.payload, bool(r.reason)) for r in rows(lines, Layout(MEMBERS, "jsonl", None, "k"))]
    assert got == [("m1", False), ("m2", False), (None, True)]


def test_a_header_without_the_value_column_stops_the_import(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "id,tier\nm1,gold\n")
    with pytest.raises(FileError, match="no column 'member_id' in the header"):
        list(rows(path, ATTRS_CSV))


def row(line: int, payload: Any = None, reason: str = "") -> Row:
    return Row(line, START, payload, reason)


def test_batches_bound_rows_and_bytes_and_carry_rejected_rows_along() -> None:
    given = [row(1, "a"), row(2, reason="bad"), row(3, "b"), row(4, "c"), row(5, "x" * 100)]
    assert [[r.line for r in b] for b in batches(given, size=2)] == [[1, 2, 3], [4, 5]]
    # "a" and "b" cost 5 bytes each (3 of JSON, 2 of separators): "c" starts a new batch;
    # a row over the bound alone is rejected, and rides along.
    by_bytes = list(batches(given, size=10, max_bytes=10))
    assert [[r.line for r in b] for b in by_bytes] == [[1, 2, 3], [4, 5]]
    assert by_bytes[1][1].payload is None
    assert "as JSON, more than a batch" in by_bytes[1][1].reason


def test_the_refused_record_is_found_in_the_field_violation_or_the_message() -> None:
    violation = {
        "message": "x",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "field_violations": [{"field": "records[7].attributes.nope"}],
            }
        ],
    }
    assert refused_index(violation, "records") == 7
    assert refused_index({"message": "values[3]: 'x' is not usable"}, "values") == 3
    assert refused_index({"message": "Key 'k' is not a stitching key"}, "records") is None


class FakeAdmin:
    """Refuses any batch holding a payload named "bad", naming its index as the API does."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.sent: list[list[str]] = []
        self.statuses = statuses or []

    def call(self, _method: str, _path: str, body: Any) -> tuple[int, Any]:
        self.sent.append(list(body["values"]))
        if self.statuses:
            return self.statuses.pop(0), {"message": "busy"}
        if "bad" in body["values"]:
            index = body["values"].index("bad")
            return 400, {"message": f"values[{index}]: 'bad' is not a usable value"}
        return 200, {"imported": len(body["values"])}


def test_a_refused_record_is_taken_out_and_the_rest_sent_again() -> None:
    admin = FakeAdmin()
    target = Target("/v1/x", "k", "values")
    given = [row(1, "a"), row(2, "bad"), row(3, reason="local"), row(4, "c")]
    imported, refused = send(admin, target, given)  # type: ignore[arg-type]
    assert imported == 2
    assert admin.sent == [["a", "bad", "c"], ["a", "c"]]
    assert [(r.line, r.reason) for r in refused] == [
        (2, "refused by the server: 'bad' is not a usable value")
    ]


def test_unavailable_is_retried_and_a_whole_batch_refusal_raises() -> None:
    slept: list[float] = []
    admin = FakeAdmin([503, 503])
    imported, _ = send(admin, Target("/v1/x", "k", "values"), [row(1, "a")], slept.append)  # type: ignore[arg-type]
    assert (imported, slept) == (1, list(import_batches.RETRY_DELAYS[:2]))
    admin = FakeAdmin([404])
    with pytest.raises(AdminError, match="busy"):
        send(admin, Target("/v1/x", "k", "values"), [row(1, "a")], slept.append)  # type: ignore[arg-type]
