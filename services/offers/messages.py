"""Between the admin API's messages and the JSON the engine compiles and the store keeps.

A section is kept as the JSON of docs/design.md#personalizations (``{"name", "criteria", "payload"}``), so the
engine reports mistakes by paths a user recognises (``sections[1].payload[0].attribute``).
Numbers arrive as protobuf doubles; integral ones are kept as ints, so what is read back
looks like what was written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from google.protobuf import json_format, struct_pb2
from p13n.offers.v1 import personalization_pb2 as pb

from services.common.convert import timestamp
from services.offers.rendering import ConfigWarning, to_json
from services.offers.store import Record

_SOURCES = ("attribute", "aggregation", "segment")


def section_json(section: pb.Section) -> dict[str, object]:
    """A section message as the engine's JSON.

    Every source a field names is kept, even several, so that the engine refuses the
    mix with its own message rather than this code silently picking one.
    """
    return {
        "name": section.name,
        "criteria": struct_json(section.criteria),
        "payload": [_field_json(field) for field in section.payload],
    }


def _field_json(field: pb.PayloadField) -> dict[str, object]:
    node: dict[str, object] = {"name": field.name}
    if field.HasField("static"):
        node["static"] = value_json(field.static)
    for source in _SOURCES:
        if getattr(field, source):
            node[source] = getattr(field, source)
    return node


def struct_json(struct: struct_pb2.Struct) -> dict[str, object]:
    converted = to_json(json_format.MessageToDict(struct))
    return converted if isinstance(converted, dict) else {}


def value_json(value: struct_pb2.Value) -> object:
    return to_json(json_format.MessageToDict(value))


def personalization_message(record: Record, warnings: Iterable[str] = ()) -> pb.Personalization:
    return pb.Personalization(
        id=record.id,
        name=record.name,
        description=record.description,
        trigger_events=record.trigger_events,
        sections=[_section_message(section) for section in record.sections],
        warnings=warnings,
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
    )


def _section_message(section: Mapping[str, object]) -> pb.Section:
    message = pb.Section(name=str(section.get("name", "")))
    criteria = section.get("criteria")
    if isinstance(criteria, Mapping):
        message.criteria.update(criteria)
    payload = section.get("payload")
    for field in payload if isinstance(payload, Sequence) else ():
        message.payload.append(_field_message(field))
    return message


def _field_message(field: Mapping[str, object]) -> pb.PayloadField:
    message = pb.PayloadField(name=str(field.get("name", "")))
    if "static" in field:
        message.static.CopyFrom(_value(field["static"]))
    for source in _SOURCES:
        if source in field:
            setattr(message, source, str(field[source]))
    return message


def _value(value: object) -> struct_pb2.Value:
    wrapper = struct_pb2.Struct()
    wrapper.update({"value": cast(Any, value)})  # any JSON value; the stubs list them
    return wrapper.fields["value"]


def warning_text(warning: ConfigWarning) -> str:
    return f"{warning.path}: {warning.message}"
