"""Rendering: a matching section's payload as the JSON its caller receives.

A payload is compiled once into (alias, getter) pairs; rendering is calling the getters
in field order into ``{"attributes": {alias: value}}``. Fields take their value from
``{"static": v}``, ``{"attribute": a[, "aggregation": g]}`` or ``{"segment": s}``.

Values:

- Every alias is always present, so page code can rely on the shape: a SINGLE or
  IMPORTED attribute the profile lacks renders as null, a LIST aggregation as ``[]``, a
  COUNTER as 0, a segment as its membership (true/false).
- A LIST attribute named without an aggregation renders all its aggregations as
  ``{aggregation: [items]}``.
- The profile service carries every number as a protobuf double, so 28700 arrives as
  28700.0: an integral float renders as an int (up to 2**53, where doubles are exact),
  and a non-finite float as null, so the answer is always valid JSON.

Warnings (never errors: the section still works): more than ``MAX_FIELDS`` fields, or a
worst-case rendered size over ``MAX_SECTION_BYTES``. The worst case is the compact JSON
of the section with every attribute string at the stored-value limit (``VALUE_LIMIT``
bytes plus quotes), every LIST aggregation full (``max_items`` such strings), every
number as long as a double can print, and static values as they are; JSON escaping is
not counted, so the estimate is of the data, not of its worst encoding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.common.events import MAX_EXACT_INTEGER
from services.offers.catalog import AttributeType, Catalog, ProfileView
from services.offers.errors import InvalidConfigError, expect_name, expect_object, json_type

MAX_FIELDS = 20
MAX_SECTION_BYTES = 10 * 1024
VALUE_LIMIT = 500
"""Bytes a stored attribute value (and each LIST item) may have: the profile skips longer."""

_SOURCES = ("static", "attribute", "segment")
_STRING_BYTES = VALUE_LIMIT + 2
_NUMBER_BYTES = len("-1.7976931348623157e+308")
_EMPTY_SECTION_BYTES = len('{"attributes":{}}')

Getter = Callable[[ProfileView], object]


@dataclass(frozen=True)
class ConfigWarning:
    """Something legal but likely regretted, shown when saving and in preview."""

    path: str
    message: str
    personalization: str | None = None


@dataclass(frozen=True)
class Payload:
    """A compiled payload, its worst-case rendered size in bytes and its warnings."""

    fields: tuple[tuple[str, Getter], ...]
    max_bytes: int
    warnings: tuple[ConfigWarning, ...]

    def render(self, view: ProfileView) -> dict[str, object]:
        """The section as it is answered when it matches."""
        return {"attributes": {alias: get(view) for alias, get in self.fields}}


def compile_payload(payload: object, catalog: Catalog, path: str = "payload") -> Payload:
    """Validate ``payload`` (a list of fields, or None for none) and compile it.

    Raises ``InvalidConfigError`` at the path of the first mistake.
    """
    if payload is None:
        payload = []
    if not isinstance(payload, list):
        raise InvalidConfigError(path, f"expected a list of fields, got {json_type(payload)}")
    fields: list[tuple[str, Getter]] = []
    entry_bytes: list[int] = []
    seen: dict[str, int] = {}
    for i, field in enumerate(payload):
        alias, get, value_bytes = _compile_field(field, catalog, f"{path}[{i}]")
        if alias in seen:
            raise InvalidConfigError(
                f"{path}[{i}].name", f"alias {alias!r} is already used by {path}[{seen[alias]}]"
            )
        seen[alias] = i
        fields.append((alias, get))
        entry_bytes.append(_json_bytes(alias) + 1 + value_bytes)
    max_bytes = _EMPTY_SECTION_BYTES + _joined(entry_bytes)
    warnings = []
    if len(fields) > MAX_FIELDS:
        warnings.append(
            ConfigWarning(
                path,
                f"{len(fields)} fields: more than {MAX_FIELDS} slows the page down; "
                "consider splitting the section",
            )
        )
    if max_bytes > MAX_SECTION_BYTES:
        warnings.append(
            ConfigWarning(
                path,
                f"can render up to {max_bytes} bytes, over {MAX_SECTION_BYTES}; use fewer "
                f"fields or smaller LIST caps (each item can take {VALUE_LIMIT} bytes)",
            )
        )
    return Payload(tuple(fields), max_bytes, tuple(warnings))


def _compile_field(field: object, catalog: Catalog, path: str) -> tuple[str, Getter, int]:
    """Return a field's alias, its getter and the most bytes its value can print as."""
    node = expect_object(field, path, required=["name"], optional=[*_SOURCES, "aggregation"])
    alias = expect_name(node["name"], f"{path}.name")
    sources = [key for key in _SOURCES if key in node]
    if len(sources) != 1:
        found = ", ".join(sources) or "none"
        raise InvalidConfigError(
            path, f"a field needs exactly one of {', '.join(_SOURCES)}; found {found}"
        )
    if "aggregation" in node and "attribute" not in node:
        raise InvalidConfigError(f"{path}.aggregation", "'aggregation' goes with 'attribute' only")
    if "static" in node:
        value = to_json(node["static"])
        # to_json copies containers, so that no two responses share a mutable value.
        return alias, lambda _view: to_json(value), _json_bytes(value)
    if "segment" in node:
        segment = catalog.segment(node["segment"], f"{path}.segment")
        return alias, lambda view: segment in view.segments, len("false")
    name, attribute = catalog.attribute(node["attribute"], f"{path}.attribute")
    list_bytes = 2 + _joined([_STRING_BYTES] * attribute.max_items)
    if "aggregation" in node:
        aggregation = catalog.aggregation(name, node["aggregation"], f"{path}.aggregation")
        return alias, lambda view: _items(view, name, aggregation), list_bytes
    if attribute.type is AttributeType.LIST:
        aggregations = tuple(attribute.aggregations)
        object_bytes = 2 + _joined([_json_bytes(a) + 1 + list_bytes for a in aggregations])
        return (
            alias,
            lambda view: {a: _items(view, name, a) for a in aggregations},
            object_bytes,
        )
    if attribute.type is AttributeType.COUNTER:
        return alias, lambda view: to_json(view.counter(name)), _NUMBER_BYTES
    return alias, lambda view: to_json(view.scalar(name)), _STRING_BYTES


def to_json(value: object) -> object:
    """Return ``value`` as it should print: integral floats as ints, containers copied."""
    # Every rendered value passes here, most of them strings: exact types are checked
    # first, because an isinstance check against the Mapping ABC costs several times more.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) <= MAX_EXACT_INTEGER else value
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


def _items(view: ProfileView, name: str, aggregation: str) -> list[object]:
    # Items are mostly strings, which print as they are: no call for them.
    return [item if type(item) is str else to_json(item) for item in view.items(name, aggregation)]


def _joined(sizes: list[int]) -> int:
    """Bytes of values printed one after another, a comma between each two."""
    return sum(sizes) + max(len(sizes) - 1, 0)


def _json_bytes(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
