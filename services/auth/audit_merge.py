"""One page of the audit log from the entries of several services (pure: no grpc, no I/O).

Each service (auth, profile, offers) keeps its own entries, numbered in commit order. A
page is a k-way merge of what each returned after its place in the previous page, ordered
by (time, service, number); the page token records each service's place, so a page neither
repeats nor skips an entry whatever the clocks say, and entries committed meanwhile appear
on a later page. The token is opaque to clients (base64 of JSON) and checked when read.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Mapping, Sequence

from p13n.auth.v1 import audit_pb2

from services.common.errors import InvalidArgument

Entry = audit_pb2.AuditEntry
Places = dict[str, int]

BAD_TOKEN = "Page token is invalid: pass next_page_token unchanged"


def number(entry: Entry) -> int:
    """The entry's number within its service (``<source>-<number>``)."""
    return int(entry.id.rsplit("-", 1)[1])


def _order(entry: Entry) -> tuple[int, str, int]:
    return (entry.time.ToNanoseconds(), entry.source, number(entry))


def decode(token: str, sources: Sequence[str]) -> Places:
    """Each service's place (the number of its last entry already shown); 0 to start."""
    places = dict.fromkeys(sources, 0)
    if not token:
        return places
    try:
        given = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidArgument(BAD_TOKEN, field="page_token") from None
    if not isinstance(given, dict) or set(given) != set(sources):
        raise InvalidArgument(BAD_TOKEN, field="page_token")
    for source, place in given.items():
        if type(place) is not int or place < 0:
            raise InvalidArgument(BAD_TOKEN, field="page_token")
        places[source] = place
    return places


def encode(places: Mapping[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(dict(places), sort_keys=True).encode()).decode()


def merge(
    found: Mapping[str, Sequence[Entry]], places: Places, size: int
) -> tuple[list[Entry], str]:
    """The first ``size`` entries of all ``found`` (each in its service's order, read with
    ``size + 1`` as its limit) and the next page's token ("" when none follows)."""
    everything = heapq.merge(*(list(entries) for entries in found.values()), key=_order)
    merged = list(everything)
    page = merged[:size]
    if len(merged) <= size:
        return page, ""
    following = dict(places)
    for entry in page:
        following[entry.source] = max(following[entry.source], number(entry))
    return page, encode(following)
