"""Events as the profile service receives them: decoded, checked and encoded for storage.

An event arrives as a ``google.protobuf.Struct``, where every number is a double. It is
turned into plain JSON values once: integral numbers become ints (so ``28700`` is stored
and printed as ``28700``, as the client sent it), and nesting deeper than 32 levels (arrays
and objects alike; the event object itself is level 1) is refused, as on the public path.
A number whose value is an integer beyond ±2^53 is refused too, naming its place: a double
cannot hold it exactly (``2**64`` would be stored as ``1.8446744073709552e+19``). The
gateway refuses such literals in the JSON itself (services/auth/strict_json.py); this
holds the rule for native gRPC clients, whose Struct numbers are doubles already.

The stored body is the event exactly as decoded, ``time`` included; a client-sent ``time``
is also kept apart as ``client_time`` and is never used for windows or expiry (the server's
receive time is).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from services.common import json_text
from services.common.errors import InvalidArgument

MAX_DEPTH = 32
MAX_RECORD_BYTES = 1024 * 1024
# Doubles hold every integer up to 2**53 exactly; beyond it an "integral" double is a guess.
MAX_EXACT_INTEGER = 2**53

Event = dict[str, object]


class EventError(ValueError):
    """The event cannot be accepted; the message says why, for the developer sending it."""


def decode(struct: struct_pb2.Struct) -> Event:
    """The event as plain JSON values; raises EventError for deep nesting or odd numbers."""
    return _object(struct, 1, "")


def encode(event: Mapping[str, object]) -> str:
    """The stored form of an event: compact JSON, UTF-8 as is."""
    return json_text.dumps(event)


def client_time(event: Mapping[str, object]) -> str | None:
    """The client's own ``time`` field as JSON text, None when it sent none."""
    return encode_value(event["time"]) if "time" in event else None


def encode_value(value: object) -> str:
    return json_text.dumps(value)


def to_struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def to_value(value: Any) -> struct_pb2.Value:
    wrapper = struct_pb2.Struct()
    wrapper.update({"v": value})
    return wrapper.fields["v"]


def checked(struct: struct_pb2.Struct, where: str = "event") -> tuple[Event, str]:
    """The decoded event and its stored JSON, or InvalidArgument naming ``where``."""
    try:
        event = decode(struct)
    except EventError as error:
        raise InvalidArgument(f"{where}: {error}", reason="INVALID_EVENT", field=where) from None
    body = encode(event)
    if len(body.encode("utf-8")) > MAX_RECORD_BYTES:
        raise InvalidArgument(
            f"{where} is larger than 1 MiB as JSON; send smaller events",
            reason="EVENT_TOO_LARGE",
            field=where,
        )
    return event, body


def _object(struct: struct_pb2.Struct, depth: int, path: str) -> Event:
    if depth > MAX_DEPTH:
        raise EventError(f"nesting is deeper than {MAX_DEPTH} levels")
    return {
        name: _value(value, depth, f"{path}.{name}" if path else name)
        for name, value in struct.fields.items()
    }


def _value(value: struct_pb2.Value, depth: int, path: str) -> object:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _object(value.struct_value, depth + 1, path)
    if kind == "list_value":
        if depth + 1 > MAX_DEPTH:
            raise EventError(f"nesting is deeper than {MAX_DEPTH} levels")
        items = value.list_value.values
        return [_value(item, depth + 1, f"{path}[{i}]") for i, item in enumerate(items)]
    if kind == "number_value":
        return _number(value.number_value, path)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def _number(number: float, path: str) -> int | float:
    if not math.isfinite(number):
        raise EventError("numbers must be finite (JSON has no NaN or Infinity)")
    if not number.is_integer():
        return number
    if abs(number) > MAX_EXACT_INTEGER:
        raise EventError(
            f"{path} is an integer beyond ±2^53, which a double cannot hold exactly; "
            "send it as a string"
        )
    return int(number)
