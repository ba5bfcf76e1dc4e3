"""Refusing U+0000 anywhere in a request, on every route of every service.

PostgreSQL cannot store the NUL character in text or JSONB (it answers "invalid byte
sequence" or "unsupported Unicode escape sequence"), while SQLite stores it: so that a
request means the same on both backends, and is a client's mistake (400) rather than a
server error, no string of any request may hold it: fields, repeated fields, map keys
and values, and the keys and strings of free JSON (events, criteria, payloads). Bytes
fields may hold any byte.

The search runs only on a request whose encoding holds a zero byte (``may_hold_nul``):
every NUL in a string is encoded as one, so most requests cost one ``memchr``.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import Message

from services.common.errors import InvalidArgument

NUL = "\x00"
_STRUCT = "google.protobuf.Struct"
_VALUE = "google.protobuf.Value"
_LIST = "google.protobuf.ListValue"


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
    if name == _STRUCT:
        for key, value in message.fields.items():  # type: ignore[attr-defined]
            inner = f"{path}[{key[:40]!r}]"
            yield inner, key
            yield from _strings(value, inner)
        return
    if name == _VALUE:
        kind = message.WhichOneof("kind")
        if kind == "string_value":
            yield path, message.string_value  # type: ignore[attr-defined]
        elif kind in ("struct_value", "list_value"):
            yield from _strings(getattr(message, kind), path)
        return
    if name == _LIST:
        for index, value in enumerate(message.values):  # type: ignore[attr-defined]
            yield from _strings(value, f"{path}[{index}]")
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


def _one(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Message):
        yield from _strings(value, path)
