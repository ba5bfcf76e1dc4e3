"""Small conversions every admin API needs between paths, storage and messages."""

from __future__ import annotations

from google.protobuf import timestamp_pb2


def path_id(text: str) -> int:
    """A resource id from a path, as stored; a non-number names nothing (NOT_FOUND, not a 500)."""
    return int(text) if text.isdigit() else -1


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    """Epoch seconds as a Timestamp."""
    stamp = timestamp_pb2.Timestamp()
    # Microseconds: what a double of epoch seconds holds exactly, without float noise.
    stamp.FromMicroseconds(round(seconds * 1e6))
    return stamp
