"""The kinds of item a configuration file holds, and their canonical form.

The server answers with more than a file says: output-only fields (ids, times,
warnings), every field at its default ("" , [], false, 0, ``*_UNSPECIFIED``) and a few
values it fills in itself. ``canonical`` strips all of that from the server's objects and
from the file's items alike, so two descriptions of the same configuration compare
equal and an export holds only what a person would write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.auth.origins import validate_allowed_origins
from services.common.errors import InvalidArgument


@dataclass(frozen=True)
class Kind:
    """One kind of item: where the admin API keeps it and which of its fields cannot change."""

    key: str  # the document's key, the URL's collection and the list response's field
    label: str  # how messages name one item
    fields: tuple[str, ...]  # what the file may say, in the order an export writes them
    immutable: frozenset[str] = frozenset()  # what the API refuses to change


PARENT_SEGMENT = Kind(
    key="parent_segments",
    label="parent segment",
    fields=("name", "description", "primary_key"),
    immutable=frozenset({"primary_key"}),
)

# In the document's order, which is also the order of creation: what an item refers to
# by name comes before it (events and stitching keys before attributes, attributes and
# segments before personalizations). Deletes go the other way.
KINDS: tuple[Kind, ...] = (
    Kind(
        key="events",
        label="event",
        fields=("name", "database", "table", "filters"),
    ),
    Kind(
        key="stitching_keys",
        label="stitching key",
        fields=("name", "regex", "exclusions", "workflow_only", "verified"),
    ),
    Kind(
        key="attributes",
        label="attribute",
        fields=("name", "type", "event", "field", "sensitivity", "list", "counter"),
        immutable=frozenset({"type"}),
    ),
    Kind(
        key="segments",
        label="segment",
        fields=("name", "sensitivity"),
    ),
    Kind(
        key="services",
        label="service",
        fields=("name", "description", "type", "allowed_origins", "rate_limit"),
        immutable=frozenset({"type"}),
    ),
    Kind(
        key="personalizations",
        label="personalization",
        fields=("name", "description", "trigger_events", "sections"),
    ),
)
BY_KEY = {kind.key: kind for kind in KINDS}

# Values a person writes as JSON and the server keeps as JSON: a static payload value may
# be "", 0, [] or null on purpose, so these are never stripped of "defaults"; their keys
# are sorted instead (the server does not keep their order).
_OPAQUE = frozenset({"static", "criteria"})


def canonical(kind: Kind, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with only ``kind``'s fields, in its order, defaults and server fill-ins
    removed; what a file would say about it."""
    result: dict[str, Any] = {}
    for name in kind.fields:
        if name in item:
            value = _stripped(item[name])
            if not _is_default(value):
                result[name] = value
    # Counters are never sensitive: the server answers NON_SENSITIVE when none is given.
    counter = kind.key == "attributes" and result.get("type") == "COUNTER"
    if counter and result.get("sensitivity") == "NON_SENSITIVE":
        del result["sensitivity"]
    if kind.key == "services" and "allowed_origins" in result:
        result["allowed_origins"] = _origins_as_saved(result["allowed_origins"])
    return result


def _origins_as_saved(origins: Any) -> Any:
    """The origins as the server saves them (lower-cased, trimmed, no default port, no
    duplicates), by the server's own function; a list it refuses is left as written, so
    the apply sends it and the server's 400 names the entry."""
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        return origins
    try:
        return validate_allowed_origins(origins)
    except InvalidArgument:
        return origins


def _stripped(value: Any) -> Any:
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, inner in value.items():
            if key in _OPAQUE:
                if key == "criteria" and inner in ({}, None):
                    continue  # an empty criteria tree always matches; the server omits it
                kept[key] = _keys_sorted(inner)
                continue
            inner = _stripped(inner)
            if not _is_default(inner):
                kept[key] = inner
        return kept
    if isinstance(value, list):
        return [_stripped(inner) for inner in value]
    return value


def _keys_sorted(value: Any) -> Any:
    """JSON objects the server keeps as google.protobuf.Struct come back in no fixed key
    order; sorted, an export prints the same text every time."""
    if isinstance(value, dict):
        return {key: _keys_sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_keys_sorted(inner) for inner in value]
    return value


def _is_default(value: Any) -> bool:
    if value is None or value is False or value == "" or value == [] or value == {}:
        return True
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return True
    return isinstance(value, str) and value.endswith("_UNSPECIFIED")
