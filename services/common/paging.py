"""AIP-158 pagination over integer ids: the page token is the last id of the previous page.

A page also stops at ``PAGE_JSON_BYTES`` of JSON (AIP-158 lets a page hold fewer items than
asked for): the gateway buffers an answer of at most about 1 MiB, and a thousand
resources each near their limits (``services.common.limits``) would not fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from services.common.errors import InvalidArgument, NotFound
from services.common.ids import parse_id

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
PAGE_JSON_BYTES = 512 * 1024


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


def one_page(
    found: Sequence[R], size: int, weight: Callable[[R], int] | None = None
) -> tuple[list[R], str]:
    """One page of what was read with ``size + 1`` as its limit, and the next page's token.

    Reading one more than a page tells whether another page follows without counting.
    ``weight`` is an item's size as the API prints it (``json_size`` of its message; the
    default for an item that is a message); the page ends before it would pass
    ``PAGE_JSON_BYTES``, but always holds at least one item.
    """
    weigh = weight or _own_json_size
    page: list[R] = []
    total = 0
    for item in found[:size]:
        total += weigh(item)
        if page and total > PAGE_JSON_BYTES:
            break
        page.append(item)
    return page, (str(page[-1].id) if len(found) > len(page) else "")


def json_size(message: Message) -> int:
    """About the bytes the gateway prints for ``message`` (at most that: ASCII escapes)."""
    return len(
        json_format.MessageToJson(
            message,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
            indent=None,
        )
    )


def _own_json_size(item: object) -> int:
    return json_size(item) if isinstance(item, Message) else 0
