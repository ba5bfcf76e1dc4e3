"""A request body read as RFC 8259 JSON, strictly, and checked against the message it becomes.

Envoy's transcoder parses with protobuf's JSON parser, which is lenient (single quotes,
unquoted keys, trailing commas and control characters pass), ignores fields the message
does not have, and turns every number of a ``google.protobuf.Struct`` into a double. So the
gateway hands ext_authz the raw body (``with_request_body``, ``pack_as_bytes``) and this
module refuses, before anything is stored:

- bytes that are not UTF-8, or text that is not RFC 8259 JSON: no NaN/Infinity, no lone
  surrogate escapes, no key twice in one object (the transcoder would keep one silently);
- a key the request message does not define, named by its path (``service.allowed_origin``);
- a number whose value is an integer beyond ±2^53 (``2**64`` would be stored as
  ``1.8446744073709552e+19``), or a number too large for a double.

Pure: no grpc, no Envoy. The messages come from the descriptor set the gateway uses
(``bindings.py`` finds which message a path and method become).
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any, NoReturn

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from services.common.events import MAX_EXACT_INTEGER

# Nesting allowed in a body; events allow 32 levels (services/common/events.py) inside the
# request messages' own few.
MAX_DEPTH = 64

_ANY_JSON = {"google.protobuf.Value"}
_OBJECT = {"google.protobuf.Struct"}
_ARRAY = {"google.protobuf.ListValue"}
# Well-known types written as a JSON scalar (a string, or the wrapped scalar).
_SCALAR_MESSAGES = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
}


class BodyError(ValueError):
    """The body is refused; ``str(error)`` says why, for the developer who sent it."""

    def __init__(self, message: str, field: str = "", reason: str = "INVALID_JSON") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason  # google.rpc.ErrorInfo's reason


def parse(raw: bytes) -> object:
    """The body as JSON values, or BodyError if it is not strict RFC 8259 JSON in UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(
            f"The body is not valid UTF-8 (byte {error.start}); send JSON encoded as UTF-8"
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except json.JSONDecodeError as error:
        raise BodyError(
            f"The body is not valid JSON (RFC 8259): {error.msg.removesuffix(' at')} (line {error.lineno}, "
            f"column {error.colno})"
        ) from None
    except RecursionError:
        raise BodyError(f"The body is nested deeper than {MAX_DEPTH} levels") from None
    except BodyError:
        raise
    except ValueError:  # an integer literal longer than Python converts (4300 digits)
        raise BodyError("The body holds a number too long to read") from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BodyError(f'The key "{_printable(key)}" appears twice in one object')
        result[key] = value
    return result


def _constant(name: str) -> NoReturn:
    raise BodyError(f"The body is not valid JSON (RFC 8259): {name} is not a JSON value")


def check(value: object, message: Descriptor, where: str = "") -> None:
    """Raises BodyError if ``value`` is not a JSON form of ``message``.

    ``where`` is the field path the value sits at ("" for the request itself), used in
    messages: a body bound to one field (``body: "service"``) passes that field's name.
    """
    _message(value, message, where, 1)


def _fail(message: str, where: str, reason: str = "INVALID_JSON") -> NoReturn:
    raise BodyError(message, where, reason)


def _message(value: object, message: Descriptor, where: str, depth: int) -> None:
    name = message.full_name
    if name in _ANY_JSON or name in _OBJECT or name in _ARRAY:
        _expect_container(value, name, where)
        _any_json(value, where, depth)
        return
    if name in _SCALAR_MESSAGES:
        _any_json(value, where, depth)
        return
    if value is None:
        return
    if not isinstance(value, dict):
        _fail(f"{_printable(where) or 'The body'} must be a JSON object", where)
    fields = _fields(message)
    for key, item in value.items():
        field = fields.get(key)
        path = f"{where}.{key}" if where else key
        if field is None:
            _fail(_unknown(path, message), path, "UNKNOWN_FIELD")
        _field(item, field, path, depth + 1)


@functools.cache
def _fields(message: Descriptor) -> dict[str, FieldDescriptor]:
    """A message's fields by proto name and JSON name (asked for every object of a body:
    built once per message, or a big body's check costs seconds)."""
    return {**message.fields_by_name, **{f.json_name: f for f in message.fields}}


def _unknown(path: str, message: Descriptor) -> str:
    known = ", ".join(sorted(f.name for f in message.fields))
    return f'Unknown field "{_printable(path)}"; {message.name} has: {known}'


def _expect_container(value: object, name: str, where: str) -> None:
    if name in _OBJECT and not isinstance(value, dict):
        _fail(f"{_printable(where) or 'The body'} must be a JSON object", where)
    if name in _ARRAY and not isinstance(value, list):
        _fail(f"{_printable(where) or 'The body'} must be a JSON array", where)


def _field(value: object, field: FieldDescriptor, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        _fail(f"{_printable(where)} is nested deeper than {MAX_DEPTH} levels", where)
    entry = _map_value(field)
    if entry is not None and isinstance(value, dict):
        for key, item in value.items():
            _field(item, entry, f"{where}.{key}", depth + 1)
    elif entry is None and field.is_repeated and isinstance(value, list):
        for index, item in enumerate(value):
            _single(item, field, f"{where}[{index}]", depth)
    else:
        _single(value, field, where, depth)


def _single(value: object, field: FieldDescriptor, where: str, depth: int) -> None:
    if field.message_type is None:
        _any_json(value, where, depth)
    else:
        _message(value, field.message_type, where, depth)


@functools.cache
def _map_value(field: FieldDescriptor) -> FieldDescriptor | None:
    """A map field's value field; None for any other field (cached: ``GetOptions`` is slow)."""
    message = field.message_type
    if message is None or not message.GetOptions().map_entry:
        return None
    value: FieldDescriptor = message.fields_by_name["value"]
    return value


def _any_json(value: object, where: str, depth: int) -> None:
    """Any JSON value: every number exact or a finite double, every string real Unicode."""
    if depth > MAX_DEPTH:
        _fail(f"{_printable(where) or 'The body'} is nested deeper than {MAX_DEPTH} levels", where)
    if isinstance(value, dict):
        for key, item in value.items():
            _string(key, where)
            _any_json(item, f"{where}.{key}" if where else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _any_json(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, str):
        _string(value, where)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _number(value, where)


def _number(value: float, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        _fail(f"{_printable(where)}: the number is too large for a double", where)
    if abs(value) > MAX_EXACT_INTEGER and (isinstance(value, int) or value.is_integer()):
        _fail(
            f"{_printable(where)}: integers beyond ±2^53 cannot round-trip as JSON numbers; "
            "send the value as a string",
            where,
            "INTEGER_NOT_EXACT",
        )


def _string(value: str, where: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        _fail(f"{_printable(where) or 'The body'}: a \\u escape is a lone surrogate", where)


def _printable(text: str) -> str:
    """A client's key as it may appear in a message: printable, at most 100 characters."""
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text[:100])
    return shown + ("..." if len(text) > 100 else "")
