"""Resource ids as clients send them: checked once, at the edge, before any handler runs.

Every id p13n hands out is a SQLite rowid printed in decimal: ``1`` to ``2**63 - 1``,
ASCII digits, no sign, no leading zero, no blanks. Anything else (``-1``, ``1e3``, ``007``,
``²``, the Arabic-Indic ``٣`` that ``int()`` reads as 3, a number beyond int64) names no
resource, so it is answered exactly as an unknown id is: 404 NOT_FOUND. One rule for every
route, so a hostile id can neither reach a database as an overflowing integer (a 500 and a
traceback) nor alias a real id through a second spelling.

The interceptor applies ``check_request_ids`` to every request of every service: a string
field named ``*_id`` at the top of a request message is an id (the contracts name them so),
except a filter (``_FILTERS``), which matches nothing rather than naming something; an empty
one is left to the handler, which knows whether it is required.
"""

from __future__ import annotations

import re
from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from services.common.errors import NotFound, parent_segment_not_found

MAX_ID = 2**63 - 1
_CANONICAL = re.compile(r"[1-9][0-9]{0,18}")
# What a 404 message shows of a hostile id: enough to recognise it, never a flood.
_SHOWN = 40
_NOUNS = {"api_key_id": "API key"}
# Fields named like ids that only filter a list: a value naming nothing lists nothing.
# The audit log's filter passes from the auth service to the profile and offers services'
# internal listings, whose interceptors check it too.
_FILTERS = frozenset(
    {
        "p13n.auth.v1.ListAuditEntriesRequest.resource_id",
        "p13n.profile.v1.ListAuditEntriesRequest.resource_id",
        "p13n.offers.v1.ListAuditEntriesRequest.resource_id",
    }
)


def parse_id(value: str, field: str) -> int:
    """The id ``value`` spells, or NOT_FOUND naming ``field`` as an unknown id would be."""
    if _CANONICAL.fullmatch(value) and int(value) <= MAX_ID:
        return int(value)
    raise not_found(value, field)


def not_found(value: str, field: str) -> NotFound:
    """The 404 for an id in ``field`` that names nothing."""
    shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "..."
    if field == "parent_segment_id":
        error = parent_segment_not_found(shown)
    else:
        noun = _NOUNS.get(field) or field.removesuffix("_id").replace("_", " ").capitalize()
        error = NotFound(f"{noun} {shown!r} not found")
    error.field = field
    return error


def check_request_ids(request: Message) -> None:
    """Refuses a request whose id fields do not spell an id (NOT_FOUND, as unknown ids)."""
    for name in _id_fields(request.DESCRIPTOR):
        value = getattr(request, name)
        if value:
            parse_id(value, name)


@cache
def _id_fields(descriptor: Descriptor) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in descriptor.fields
        if f.name.endswith("_id")
        and f.full_name not in _FILTERS
        and f.type == FieldDescriptor.TYPE_STRING
        and not f.is_repeated
    )
