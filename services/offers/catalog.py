"""What the offers service sees of a parent segment: its catalog of names, and one profile.

Both are plain frozen data that the gRPC layer builds from the profile service's answers,
so that criteria, rendering and redaction are tested without either service running.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from services.offers.errors import InvalidConfigError, expect_name


class AttributeType(StrEnum):
    SINGLE = "SINGLE"
    LIST = "LIST"
    COUNTER = "COUNTER"
    IMPORTED = "IMPORTED"


class Sensitivity(StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    SENSITIVE = "SENSITIVE"
    NON_SENSITIVE = "NON_SENSITIVE"


@dataclass(frozen=True)
class Attribute:
    """One attribute of a parent segment.

    A LIST's ``aggregations`` map each aggregation's name to its own sensitivity
    (redaction.py decides how that combines with the attribute's). ``max_items`` is the
    LIST's cap, which bounds how large a rendered section can get.
    """

    type: AttributeType
    sensitivity: Sensitivity = Sensitivity.UNSPECIFIED
    aggregations: Mapping[str, Sensitivity] = field(default_factory=dict)
    max_items: int = 100


@dataclass(frozen=True)
class Catalog:
    """The names a personalization may refer to, with their types and sensitivities.

    The lookups take the raw JSON value found at ``path`` and raise
    ``InvalidConfigError`` there, so that every parser reports a bad name alike.
    """

    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    segments: Mapping[str, Sensitivity] = field(default_factory=dict)
    events: frozenset[str] = frozenset()

    def attribute(self, name: object, path: str) -> tuple[str, Attribute]:
        """Return the attribute named by ``name`` (with its name, for messages)."""
        known = expect_name(name, path)
        if known not in self.attributes:
            raise _unknown("attribute", known, self.attributes, path)
        return known, self.attributes[known]

    def aggregation(self, attribute: str, aggregation: object, path: str) -> str:
        """Return ``aggregation`` if ``attribute`` is a LIST that has it."""
        definition = self.attributes[attribute]
        if definition.type is not AttributeType.LIST:
            raise InvalidConfigError(
                path,
                f"attribute {attribute!r} is {definition.type}; only LIST attributes "
                "have aggregations",
            )
        known = expect_name(aggregation, path)
        if known not in definition.aggregations:
            raise _unknown(f"aggregation of {attribute!r}", known, definition.aggregations, path)
        return known

    def segment(self, name: object, path: str) -> str:
        """Return ``name`` if it is a segment of this parent segment."""
        known = expect_name(name, path)
        if known not in self.segments:
            raise _unknown("segment", known, self.segments, path)
        return known

    def event(self, name: object, path: str) -> str:
        """Return ``name`` if it is an event definition of this parent segment."""
        known = expect_name(name, path)
        if known not in self.events:
            raise _unknown("event definition", known, self.events, path)
        return known


def _unknown(kind: str, name: str, known: Iterable[str], path: str) -> InvalidConfigError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return InvalidConfigError(path, f"no {kind} named {name!r} in this parent segment{hint}")


@dataclass(frozen=True)
class ProfileView:
    """One stitched profile as the profile service returns it for a request.

    ``attributes`` maps a name to a scalar for SINGLE, COUNTER and IMPORTED attributes, and
    for a LIST to a mapping of aggregation name to its newest-first items. The accessors
    never raise on a value of an unexpected shape: one odd value must not fail a request.
    """

    attributes: Mapping[str, object] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()

    def scalar(self, name: str) -> object:
        """The value of a SINGLE or IMPORTED attribute, ``None`` when the profile has none."""
        return self.attributes.get(name)

    def counter(self, name: str) -> object:
        """The value of a COUNTER: one that nothing has incremented yet has counted zero."""
        value = self.attributes.get(name)
        return 0 if value is None else value

    def items(self, name: str, aggregation: str) -> list[object]:
        """The newest-first items of a LIST aggregation, ``[]`` when the profile has none."""
        value = self.attributes.get(name)
        items = value.get(aggregation) if isinstance(value, Mapping) else None
        return list(items) if isinstance(items, list | tuple) else []
