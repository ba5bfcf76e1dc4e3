"""Small conversions every admin API needs between paths, storage and messages."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from services.common.errors import NotFound
from services.common.ids import parse_id


def path_id(text: str) -> int:
    """A resource id from a path, as stored; a non-id names nothing (NOT_FOUND, not a 500).

    The interceptor already refused requests whose ids are not ids
    (``services.common.ids``); this keeps a store safe from any other caller.
    """
    try:
        return parse_id(text, "id")
    except NotFound:
        return -1


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    """Epoch seconds as a Timestamp."""
    stamp = timestamp_pb2.Timestamp()
    # Microseconds: what a double of epoch seconds holds exactly, without float noise.
    stamp.FromMicroseconds(round(seconds * 1e6))
    return stamp
