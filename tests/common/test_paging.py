"""AIP-158 pages over increasing ids: the size, the token, and one page of what was read."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.common.errors import InvalidArgument
from services.common.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, one_page, page_after, page_size


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
