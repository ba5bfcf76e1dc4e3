"""AIP-158 pagination over integer ids: the page token is the last id of the previous page."""

from __future__ import annotations

from services.common.errors import InvalidArgument

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
    if not token.isdigit():
        raise InvalidArgument(
            "Page token is invalid: pass next_page_token unchanged", field="page_token"
        )
    return int(token)
