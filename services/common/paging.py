"""AIP-158 pagination over integer ids: the page token is the last id of the previous page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from services.common.errors import InvalidArgument, NotFound
from services.common.ids import parse_id

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("Page size must not be negative", field="page_size")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def page_after(token: str) -> int:
    """The id after which the page starts."""
    if not token:
        return 0
    try:
        return parse_id(token, "page_token")
    except NotFound:
        raise InvalidArgument(
            "Page token is invalid: pass next_page_token unchanged", field="page_token"
        ) from None


class _Identified(Protocol):
    @property
    def id(self) -> int | str: ...


R = TypeVar("R", bound=_Identified)


def one_page(found: Sequence[R], size: int) -> tuple[list[R], str]:
    """One page of what was read with ``size + 1`` as its limit, and the next page's token.

    Reading one more than a page tells whether another page follows without counting.
    """
    page = list(found[:size])
    return page, (str(page[-1].id) if len(found) > size else "")
