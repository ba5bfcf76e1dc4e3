"""The steps of a configuration write that differ by kind: validation and field masks.

``config_service`` runs a create or an update the same way for every kind of child of a
parent segment (inside one store transaction: read the others' names, prepare, write);
these are what it prepares with. Each takes the store reader, the segment's id, the child
given and the names of the segment's other children of its kind (a name must be unique
among them), and returns the child to store, or raises ``InvalidArgument``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common.errors import FailedPrecondition, InvalidArgument
from services.common.names import validate_name
from services.profile import config_rules
from services.profile.config_store import ConfigReader, ConfigWriter, M

# Makes the child to store from the one given (in the request, or the stored one with the
# request's changes applied), validated against the names of the segment's other children.
Prepare = Callable[[ConfigReader, int, M, list[str]], Awaitable[M]]
# A check inside a deletion's transaction, before anything is deleted.
DeleteCheck = Callable[[ConfigWriter, int, str], Awaitable[None]]


# The children's ``Prepare`` steps. They share one signature, so a step that needs no stored
# state takes ``_store`` and ``_segment_id`` unused. ``creating``: a new child counts against
# the segment's limit of its kind (an update replaces one, so it counts nothing).


async def event(
    _store: ConfigReader,
    _segment_id: int,
    given: pb.EventDefinition,
    names: list[str],
    *,
    creating: bool,
) -> pb.EventDefinition:
    stored = pb.EventDefinition()
    stored.CopyFrom(given)
    stored.name = validate_name(given.name, names, field="event.name")
    config_rules.validate_event_definition(given, len(names) if creating else 0)
    return stored


async def stitching_key(
    _store: ConfigReader,
    _segment_id: int,
    given: pb.StitchingKey,
    names: list[str],
    *,
    creating: bool,
) -> pb.StitchingKey:
    stored = pb.StitchingKey()
    stored.CopyFrom(given)
    if creating:  # then fixed: events and imports refer to a key by its name
        stored.name = validate_name(given.name, names, field="stitching_key.name")
    config_rules.validate_stitching_key(given, len(names) if creating else 0)
    return stored


async def attribute(
    store: ConfigReader,
    segment_id: int,
    given: pb.Attribute,
    names: list[str],
    *,
    flags: frozenset[str],
    creating: bool,
) -> pb.Attribute:
    # The attribute's own rules are checked before its name (their errors come first).
    stored = config_rules.validate_attribute(
        given, await store.event_names(segment_id), flags, len(names) if creating else 0
    )
    stored.name = validate_name(given.name, names, field="attribute.name")
    return stored


async def segment(
    _store: ConfigReader,
    _segment_id: int,
    given: pb.Segment,
    names: list[str],
    *,
    flags: frozenset[str],
) -> pb.Segment:
    name = validate_name(given.name, names, field="segment.name")
    validated = config_rules.validate_segment(given, flags)
    return pb.Segment(name=name, sensitivity=validated.sensitivity)


async def refuse_if_used_by_attributes(store: ConfigReader, segment_id: int, event: str) -> None:
    users = [a.name for a in await store.attributes(segment_id) if a.event == event]
    if users:
        raise FailedPrecondition(
            f"Event definition {event!r} is used by attributes: {', '.join(users)}"
        )


def mask_paths(request: Any, allowed: set[str]) -> set[str]:
    """The request's update mask; InvalidArgument unless it names some of ``allowed`` only."""
    paths = set(request.update_mask.paths)
    unknown = paths - allowed
    if unknown or not paths:
        raise InvalidArgument(
            f"update_mask must name some of: {', '.join(sorted(allowed))}", field="update_mask"
        )
    return paths


def apply_mask(target: Any, changes: Any, paths: set[str]) -> None:
    """Copies the masked fields of ``changes`` onto ``target`` (repeated ones replaced whole)."""
    for path in paths:
        field = target.DESCRIPTOR.fields_by_name[path]
        if field.is_repeated:
            target.ClearField(path)
            getattr(target, path).extend(getattr(changes, path))
        elif field.message_type is not None:
            getattr(target, path).CopyFrom(getattr(changes, path))
        else:
            setattr(target, path, getattr(changes, path))
