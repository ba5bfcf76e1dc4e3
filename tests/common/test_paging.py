"""AIP-158 pages over increasing ids: the size, the token, and one page of what was read."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from google.protobuf import timestamp_pb2

from services.common.errors import InvalidArgument
from services.common.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PAGE_JSON_BYTES,
    json_size,
    one_page,
    page_after,
    page_size,
)


@dataclass(frozen=True)
class _Row:
    id: int


@pytest.mark.parametrize(
    ("requested", "size"),
    [
        pytest.param(0, DEFAULT_PAGE_SIZE, id="unset"),
        pytest.param(3, 3, id="asked"),
        pytest.param(MAX_PAGE_SIZE + 1, MAX_PAGE_SIZE, id="capped"),
    ],
)
def test_page_size(requested: int, size: int) -> None:
    assert page_size(requested) == size


def test_a_negative_page_size_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"^Page size must not be negative$"):
        page_size(-1)


def test_a_page_token_is_the_last_id_of_the_previous_page() -> None:
    assert page_after("") == 0
    assert page_after("41") == 41
    with pytest.raises(InvalidArgument, match="pass next_page_token unchanged"):
        page_after("41; DROP TABLE")


def test_one_more_than_a_page_means_another_page_follows() -> None:
    rows = [_Row(i) for i in (4, 7, 9)]
    assert one_page(rows, 2) == (rows[:2], "7")
    assert one_page(rows, 3) == (rows, "")
    assert one_page([], 3) == ([], "")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("99999999999999999999999999", id="beyond-int64"),
        pytest.param("9" * 5000, id="beyond-int-str-digits"),
        pytest.param("\u0663", id="arabic-indic-digit"),
        pytest.param("\u00b2", id="superscript-two"),
        pytest.param("-1", id="negative"),
    ],
)
def test_a_page_token_that_no_page_gave_is_refused(token: str) -> None:
    with pytest.raises(InvalidArgument, match="pass next_page_token unchanged"):
        page_after(token)


def test_a_page_stops_before_its_json_passes_the_budget() -> None:
    rows = [_Row(i) for i in range(1, 11)]
    weight = PAGE_JSON_BYTES // 4 + 1  # three fit, the fourth would pass the budget
    page, token = one_page(rows, 10, lambda _row: weight)
    assert page == rows[:3]
    assert token == "3"


def test_a_page_holds_one_item_whatever_its_size() -> None:
    rows = [_Row(1), _Row(2)]
    assert one_page(rows, 5, lambda _row: PAGE_JSON_BYTES * 2) == (rows[:1], "1")


def test_a_message_weighs_its_json() -> None:
    stamp = timestamp_pb2.Timestamp(seconds=1)
    assert json_size(stamp) == len('"1970-01-01T00:00:01Z"')
