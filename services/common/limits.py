"""What one admin request may carry: the one table of text lengths and entry counts.

Every string and every repeated field of every admin request (an RPC bound to a ``/v1/``
path) has a limit, so no field can grow a stored resource until a read of it, or a page of
a list, no longer fits an answer (a 4 MiB description once made every ``GET
/v1/parent_segments`` of its account a 500). A field named below has its own limit; any
other has the default, so a field added later is limited without anyone remembering to.
The resource a create or update carries is bounded as a whole too (``MAX_RESOURCE_BYTES``:
its criteria and payload values are free JSON), and lists cut their pages by size
(``services.common.paging``). docs/design.md §7 states the same table.

Names of resources, keys and fields (``NAME_FIELDS``) are also refused when they hold a
control or invisible character (Unicode categories Cc, Cf, Cs, Co, Cn, Zl, Zp: NUL, line
breaks, zero-width and direction marks): letters of any script are welcome.

The interceptor calls ``check_request`` on every admin request, after the ids
(``services.common.ids``) and before the handler; a field the handler checks more closely
(origins, passwords) keeps its handler's rule within these bounds.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import cache

from google.api import annotations_pb2
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from services.common.errors import InvalidArgument
from services.common.names import MAX_NAME_LENGTH

DEFAULT_TEXT = 1000
DEFAULT_ENTRIES = 100
MAX_RESOURCE_BYTES = 64 * 1024

# Characters, by the field's own name wherever it appears in a request.
TEXT: dict[str, int] = {
    "name": MAX_NAME_LENGTH,
    "description": 1000,
    "email": 254,  # the longest address SMTP can carry (RFC 5321)
    # A new password's own rule is 15 to 256 characters; signing in with a longer one is
    # a wrong password (401, counted against the address), up to this bound.
    "password": 1024,
    "regex": 1000,
    "primary_key": 128,
    "key": MAX_NAME_LENGTH,
    "field": 128,
    "sum_field": 128,
    "event": MAX_NAME_LENGTH,
    "attribute": MAX_NAME_LENGTH,
    "aggregation": MAX_NAME_LENGTH,
    "segment": MAX_NAME_LENGTH,
    "trigger_events": MAX_NAME_LENGTH,
    "database": 256,  # the rule is ^[a-z0-9_]{3,128}$, with its own message
    "table": 256,
    "window": 16,
    "value": 500,  # an identity value (docs/design.md §7)
    "values": 500,
    "exclusions": 500,
    "allowed_origins": 300,
    "allowed_ips": 64,
}

# Entries, by the repeated field's name.
ENTRIES: dict[str, int] = {
    "allowed_origins": 100,
    "allowed_ips": 100,
    "trigger_events": 100,
    "sections": 50,
    "payload": 50,
    "filters": 20,
    "aggregations": 20,
    "exclusions": 100,
    "values": 10_000,
    "records": 10_000,
}

# Fields that name a resource, a key or an event field: printable characters only.
NAME_FIELDS = frozenset(
    {
        "name",
        "primary_key",
        "key",
        "field",
        "sum_field",
        "event",
        "attribute",
        "aggregation",
        "segment",
        "trigger_events",
        "database",
        "table",
    }
)
_NOT_PRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Free JSON (events, criteria, payload values) is bounded by MAX_RESOURCE_BYTES and the
# event rules, not field by field.
_FREE_JSON = frozenset({"google.protobuf.Struct", "google.protobuf.Value"})


def printable(text: str) -> bool:
    """True when ``text`` holds no control or invisible character."""
    return not any(unicodedata.category(c) in _NOT_PRINTABLE for c in text)


def label(field: str) -> str:
    """``allowed_origins`` as a message names it: ``Allowed origins``."""
    return field.replace("_", " ").capitalize()


def check_request(method: str, request: Message) -> None:
    """Refuses an admin request with a field beyond its limit (400 naming the field)."""
    body = _admin_body(method)
    if body is None:
        return
    for path, name, value in _strings(request, ""):
        _check_text(path, name, value)
    if body and body != "*":
        resource: Message = getattr(request, body)
        if resource.ByteSize() > MAX_RESOURCE_BYTES:
            raise InvalidArgument(
                f"{label(body)} is too large (maximum is {MAX_RESOURCE_BYTES // 1024} KiB "
                "encoded); shorten its longest fields or split it",
                field=body,
                reason="RESOURCE_TOO_LARGE",
                metadata={"maximum": str(MAX_RESOURCE_BYTES)},
            )


def _check_text(path: str, name: str, value: str) -> None:
    maximum = TEXT.get(name, DEFAULT_TEXT)
    if len(value) > maximum:
        raise InvalidArgument(
            f"{_place(path, name)} is too long (maximum is {maximum} characters)",
            field=path,
            reason=f"{name.upper()}_TOO_LONG",
            metadata={"maximum": str(maximum)},
        )
    # Surrounding blanks are the handlers' to strip (a blank name is "can't be blank").
    if name in NAME_FIELDS and not printable(value.strip()):
        raise InvalidArgument(
            f"{_place(path, name)} must not contain control characters such as line breaks",
            field=path,
            reason=f"{name.upper()}_CONTROL_CHARACTERS",
        )


def _place(path: str, name: str) -> str:
    """A field of the request or of its resource by label (``Description``), others by path."""
    if "[" in path or path.count(".") > 1:
        return path
    return label(name)


def _strings(message: Message, prefix: str) -> Iterator[tuple[str, str, str]]:
    """Every string set in ``message`` as (path, field name, value); counts checked on the way."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if _is_map(field):
            # Map keys are free JSON keys (imported attributes): bounded as text, not named.
            _check_entries(path, field.name, len(value))
            for key in value:
                yield f"{path}[{key[:40]!r}]", "key", str(key)
        elif field.is_repeated:
            _check_entries(path, field.name, len(value))
            for index, item in enumerate(value):
                yield from _one(field, f"{path}[{index}]", item)
        else:
            yield from _one(field, path, value)


def _one(field: FieldDescriptor, path: str, value: object) -> Iterator[tuple[str, str, str]]:
    if isinstance(value, str):
        yield path, field.name, value
    elif isinstance(value, Message) and value.DESCRIPTOR.full_name not in _FREE_JSON:
        yield from _strings(value, f"{path}.")


def _check_entries(path: str, name: str, count: int) -> None:
    maximum = ENTRIES.get(name, DEFAULT_ENTRIES)
    if count > maximum:
        raise InvalidArgument(
            f"{_place(path, name)} is too long (maximum is {maximum} entries)",
            field=path,
            reason=f"{name.upper()}_TOO_MANY",
            metadata={"maximum": str(maximum)},
        )


@cache  # asked for every field of every admin request; GetOptions is slow
def _is_map(field: FieldDescriptor) -> bool:
    entry = field.message_type
    return entry is not None and bool(entry.GetOptions().map_entry)


@cache
def _admin_body(method: str) -> str | None:
    """The body field of an admin RPC (``""`` if it has none), or None for any other RPC.

    ``method`` is gRPC's ``/package.Service/Method``; an admin RPC is one the contracts
    bind to a ``/v1/`` path.
    """
    service, _, name = method.lstrip("/").rpartition("/")
    try:
        descriptor = descriptor_pool.Default().FindServiceByName(service)
    except KeyError:
        return None
    found = descriptor.methods_by_name.get(name)
    if found is None:
        return None
    rule = found.GetOptions().Extensions[annotations_pb2.http]
    kind = rule.WhichOneof("pattern")
    if kind is None or not getattr(rule, kind).startswith("/v1/"):
        return None
    return str(rule.body)
