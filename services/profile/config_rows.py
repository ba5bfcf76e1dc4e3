"""Stored configuration rows as API messages, and messages as the JSON columns they keep.

Shared by the SQLite configuration store (admin reads and writes) and the data path's
reads of a whole configuration (``realtime_store``), so one row reads the same either way.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from google.protobuf import json_format
from p13n.profile.v1 import parent_segment_pb2
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common.convert import timestamp
from services.profile import config_rules


class Row(Protocol):
    """A stored row, read by column name (``sqlite3.Row``, ``aiosqlite.Row``)."""

    def __getitem__(self, column: str, /) -> Any: ...


def parent_segment_message(row: Row) -> parent_segment_pb2.ParentSegment:
    return parent_segment_pb2.ParentSegment(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        reactor_id=row["reactor_id"],
        primary_key=row["primary_key"],
        create_time=timestamp(row["create_time"]),
    )


def event_message(row: Row) -> pb.EventDefinition:
    return pb.EventDefinition(
        id=str(row["id"]),
        name=row["name"],
        database=row["database"],
        table=row["table_name"],
        filters=[pb.EventFilter(**f) for f in json.loads(row["filters"])],
    )


def attribute_message(row: Row) -> pb.Attribute:
    attribute = json_format.Parse(row["spec"], pb.Attribute())
    attribute.id = str(row["id"])
    return attribute


def stitching_key_message(row: Row) -> pb.StitchingKey:
    return pb.StitchingKey(
        id=str(row["id"]),
        name=row["name"],
        regex=row["regex"],
        exclusions=json.loads(row["exclusions"]),
        workflow_only=bool(row["workflow_only"]),
        verified=bool(row["verified"]),
    )


def segment_message(row: Row) -> pb.Segment:
    return pb.Segment(
        id=str(row["id"]),
        name=row["name"],
        sensitivity=config_rules.SENSITIVITY_VALUES[row["sensitivity"]],
    )


def filters_json(event: pb.EventDefinition) -> str:
    return json.dumps([{"field": f.field, "regex": f.regex} for f in event.filters])


def attribute_spec_json(attribute: pb.Attribute) -> str:
    """The attribute as its ``spec`` column keeps it: everything but the id (the row's)."""
    spec = pb.Attribute()
    spec.CopyFrom(attribute)
    spec.ClearField("id")
    return json_format.MessageToJson(spec)


def exclusions_json(key: pb.StitchingKey) -> str:
    return json.dumps(list(key.exclusions))
