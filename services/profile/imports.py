"""Batch data: imported attribute values and batch segment members, keyed by key values.

Both are stored per (stitching key, value) and joined through a profile's identities when it
is read, so they apply at once, to a profile that already exists or to one that appears
later, and survive merges untouched. A value must be one the key would accept from an
event (its regex and exclusions), and the key must be usable on the real-time path (not
``workflow_only``): otherwise no real-time profile could ever carry it.

Imported values: only attributes of type IMPORTED; each value a string, number, boolean or
null (null clears it), at most 500 bytes. Re-importing a value replaces the attributes it
names and keeps the others. A request is validated whole before anything is written.

Every import call (each committed chunk of a streamed import) writes one audit entry in the
transaction of its data (``services.common.audit``, action ``import``): who, when, which
parent segment and stitching key, how many records or members were accepted and which
attribute names or segment; never a value, so an entry claims exactly what committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from p13n.profile.v1 import config_service_pb2
from p13n.profile.v1 import profile_service_pb2 as api

from services.common import audit, events
from services.common.convert import path_id
from services.common.errors import InvalidArgument, NotFound, parent_segment_not_found
from services.common.sql import Sql
from services.profile import attributes, batch_store
from services.profile.profile_store import Chunk
from services.profile.realtime import Config, ConfigCache, still_current
from services.profile.stitching import StitchingKey, identity_value


@dataclass(frozen=True)
class Row:
    """One validated import record: a key value and its attributes (None clears one)."""

    value: str
    attributes: dict[str, object]


async def config_for(
    sql: Sql, configs: ConfigCache, account_id: str, parent_segment_id: str
) -> Config:
    """The parent segment's configuration, NotFound unless it belongs to the caller's account."""
    try:
        config = await configs.get(sql, parent_segment_id)
    except NotFound:
        config = None
    if config is None or config.account_id != account_id:
        raise parent_segment_not_found(parent_segment_id)
    return config


def import_key(config: Config, name: str) -> StitchingKey:
    key = config.key(name)
    if key is None:
        known = ", ".join(k.name for k in config.keys)
        raise InvalidArgument(
            f"Key {name!r} is not a stitching key of this parent segment (keys: {known})",
            reason="UNKNOWN_KEY",
            field="key",
        )
    if key.workflow_only:
        raise InvalidArgument(
            f"Key {name!r} is workflow-only: real-time profiles never carry its values, so "
            "import by a key that events use",
            reason="WORKFLOW_ONLY_KEY",
            field="key",
        )
    return key


def key_value(key: StitchingKey, raw: str, where: str) -> str:
    value = identity_value(raw)
    if value is None or not key.accepts(value):
        raise InvalidArgument(
            f"{where}: {raw[:100]!r} is not a usable value of key {key.name!r} "
            "(blank, over 500 bytes, not matching its regex, or excluded)",
            reason="BAD_KEY_VALUE",
            field=where,
        )
    return value


def validate_records(
    config: Config, key: StitchingKey, records: Iterable[api.ImportRecord], first_index: int = 0
) -> list[Row]:
    """Validated rows; InvalidArgument names the first bad record (counted from
    ``first_index``, so a streamed import names the record's place in the whole file)."""
    rows = []
    imported = set(config.imported)
    for index, record in enumerate(records, start=first_index):
        where = f"records[{index}]"
        value = key_value(key, record.value, f"{where}.value")
        try:
            given = events.decode(record.attributes)
        except events.EventError as error:
            raise InvalidArgument(f"{where}.attributes: {error}", field=where) from None
        checked: dict[str, object] = {}
        for name, raw in given.items():
            field = f"{where}.attributes.{name}"
            if name not in imported:
                raise InvalidArgument(
                    f"{field}: {name!r} is not an IMPORTED attribute of this parent segment; "
                    "only imported attributes can be loaded",
                    reason="NOT_IMPORTED_ATTRIBUTE",
                    field=field,
                )
            checked[name] = _imported_value(raw, field)
        rows.append(Row(value, checked))
    return rows


def _imported_value(raw: object, field: str) -> object:
    if raw is None:
        return None
    value = attributes.scalar(raw)
    if value is None:
        raise InvalidArgument(
            f"{field}: an imported value is a string, number, boolean or null",
            reason="BAD_IMPORTED_VALUE",
            field=field,
        )
    if len(events.encode_value(value).encode("utf-8")) > attributes.MAX_VALUE_BYTES:
        raise InvalidArgument(
            f"{field}: the value is over {attributes.MAX_VALUE_BYTES} bytes",
            reason="VALUE_TOO_LARGE",
            field=field,
        )
    return value


IMPORTED_ATTRIBUTES = "imported_attributes"
SEGMENT_MEMBERS = "segment_members"


async def import_attributes(
    sql: Sql,
    configs: ConfigCache,
    who: audit.Author,
    parent_segment_id: str,
    key_name: str,
    records: Sequence[api.ImportRecord],
    now: float,
    chunk: Chunk | None = None,
) -> int:
    """One import request (or one streamed chunk) as a unit of the writer, with its entry."""
    config = await config_for(sql, configs, who.account_id, parent_segment_id)
    key = import_key(config, key_name)
    rows = validate_records(config, key, records, 0 if chunk is None else chunk.first_record)
    await batch_store.write_imported_values(
        sql, config.parent_segment_id, key.name, [(row.value, row.attributes) for row in rows], now
    )
    summary: dict[str, object] = {
        "parent_segment_id": str(config.parent_segment_id),
        "stitching_key": key.name,
        "records": len(rows),
        "attribute_names": sorted({name for row in rows for name in row.attributes}),
    }
    if chunk is not None:
        summary["streamed"] = {
            "chunk": chunk.number,
            "first_record": chunk.first_record,
            "records_committed": chunk.first_record + len(rows),
        }
    await _record(sql, who, IMPORTED_ATTRIBUTES, key.name, config.parent_segment_id, summary, now)
    await still_current(sql, config)  # validated by the configuration it commits under
    return len(rows)


async def _record(
    sql: Sql,
    who: audit.Author,
    resource_type: str,
    resource_id: object,
    parent_segment_id: object,
    summary: dict[str, object],
    now: float,
) -> None:
    await audit.record(
        sql,
        audit.change(
            audit.IMPORT,
            resource_type,
            str(resource_id),
            None,
            summary,
            who=who,
            parent=f"parent_segments/{parent_segment_id}",
            now=now,
        ),
    )


async def import_members(
    sql: Sql,
    configs: ConfigCache,
    who: audit.Author,
    request: config_service_pb2.ImportSegmentMembersRequest,
    now: float,
) -> int:
    """ImportSegmentMembers as a unit of the writer, with its audit entry; returns the
    distinct values recorded."""
    config = await config_for(sql, configs, who.account_id, request.parent_segment_id)
    segment_id = path_id(request.segment_id)
    if segment_id not in config.segments:
        raise NotFound(
            f"Segment {request.segment_id!r} not found in parent segment {config.parent_segment_id}"
        )
    key = import_key(config, request.key)
    values = {key_value(key, raw, f"values[{i}]") for i, raw in enumerate(request.values)}
    await batch_store.add_segment_members(
        sql, config.parent_segment_id, key.name, segment_id, values, now
    )
    summary: dict[str, object] = {
        "parent_segment_id": str(config.parent_segment_id),
        "segment_id": str(segment_id),
        "stitching_key": key.name,
        "values_sent": len(request.values),
        "members": len(values),
    }
    await _record(sql, who, SEGMENT_MEMBERS, segment_id, config.parent_segment_id, summary, now)
    await still_current(sql, config)  # validated by the configuration it commits under
    return len(values)
