"""Refusing U+0000 anywhere in a request, on every route of every service.

PostgreSQL cannot store the NUL character in text or JSONB (it answers "invalid byte
sequence" or "unsupported Unicode escape sequence"), while SQLite stores it: so that a
request means the same on both backends, and is a client's mistake (400) rather than a
server error, no string of any request may hold it: fields, repeated fields, map keys
and values, and the keys and strings of free JSON (events, criteria, payloads). Bytes
fields may hold any byte.

The search runs only on a request whose encoding holds a zero byte (``may_hold_nul``):
every NUL in a string is encoded as one. That skips requests of plain strings, but a
double or a JSON null in an event also encodes zero bytes, so most events are walked
(about 9 µs for a typical event; about 140 ms for a 10,000-record import, on the event
loop — a cost issue 17 may take on, e.g. by checking bound strings in the SQL layer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf.message import Message

from services.common.errors import InvalidArgument

NUL = "\x00"


def may_hold_nul(encoded: bytes) -> bool:
    return b"\x00" in encoded


def first_nul(message: Message) -> str | None:
    """The path of the first string of ``message`` that holds U+0000, or None."""
    for path, text in _strings(message, ""):
        if NUL in text:
            return path
    return None


def refusal(path: str) -> InvalidArgument:
    """The 400 for a NUL in the field at ``path``, named as the limits name fields."""
    place = path if ("[" in path or "." in path) else path.replace("_", " ").capitalize()
    return InvalidArgument(
        f"{place} must not contain the NUL character (U+0000)",
        field=path,
        reason="NUL_CHARACTER",
    )


def check(message: Message) -> None:
    """Refuses ``message`` if any of its strings holds U+0000 (400 naming the field)."""
    path = first_nul(message)
    if path is not None:
        raise refusal(path)


def _strings(message: Message, path: str) -> Iterator[tuple[str, str]]:
    name = message.DESCRIPTOR.full_name
    if name in _FREE_JSON:
        yield from _FREE_JSON[name](message, path)
        return
    for field, value in message.ListFields():
        inner = f"{path}.{field.name}" if path else field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                at = f"{inner}[{str(key)[:40]!r}]"
                if isinstance(key, str):
                    yield at, key
                yield from _one(item, at)
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _one(item, f"{inner}[{index}]")
        else:
            yield from _one(value, inner)


# Free JSON, walked by its JSON shape so that paths read as JSON: event['page']['tags'][1].
def _struct(message: Any, path: str) -> Iterator[tuple[str, str]]:
    for key, value in message.fields.items():
        inner = f"{path}[{key[:40]!r}]"
        yield inner, key
        yield from _value(value, inner)


def _value(message: Any, path: str) -> Iterator[tuple[str, str]]:
    kind = message.WhichOneof("kind")
    if kind == "string_value":
        yield path, message.string_value
    elif kind == "struct_value":
        yield from _struct(message.struct_value, path)
    elif kind == "list_value":
        yield from _list(message.list_value, path)


def _list(message: Any, path: str) -> Iterator[tuple[str, str]]:
    for index, value in enumerate(message.values):
        yield from _value(value, f"{path}[{index}]")


_FREE_JSON: dict[str, Callable[[Any, str], Iterator[tuple[str, str]]]] = {
    "google.protobuf.Struct": _struct,
    "google.protobuf.Value": _value,
    "google.protobuf.ListValue": _list,
}


def _one(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Message):
        yield from _strings(value, path)
