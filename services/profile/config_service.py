"""Parent segments and their real-time configuration (DESIGN §3 profile service)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
from google.protobuf import empty_pb2, json_format
from p13n.profile.v1 import config_service_pb2 as api
from p13n.profile.v1 import config_service_pb2_grpc, parent_segment_pb2
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common import identity as identities
from services.common.convert import path_id, timestamp
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from services.common.names import validate_name
from services.common.paging import page_after, page_size
from services.common.storage import Database, fetch_all, fetch_one
from services.profile import config_rules
from services.profile.store import config_changed

# Answers the account's feature flags (asked of the auth service).
FlagsLookup = Callable[[str], Awaitable[frozenset[str]]]
# Names the personalizations that reference an attribute/aggregation/segment (offers).
ReferencesLookup = Callable[..., Awaitable[list[str]]]
# Records batch segment members (a unit of the group-commit writer); returns how many.
MembersImport = Callable[[str, api.ImportSegmentMembersRequest], Awaitable[int]]


def _account() -> str:
    caller = identities.current.get()
    if caller is None or not caller.account_id:
        raise Unauthenticated("Credentials are required")
    return caller.account_id


def parent_segment_message(row: aiosqlite.Row) -> parent_segment_pb2.ParentSegment:
    return parent_segment_pb2.ParentSegment(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        reactor_id=row["reactor_id"],
        primary_key=row["primary_key"],
        create_time=timestamp(row["create_time"]),
    )


def event_message(row: aiosqlite.Row) -> pb.EventDefinition:
    return pb.EventDefinition(
        id=str(row["id"]),
        name=row["name"],
        database=row["database"],
        table=row["table_name"],
        filters=[pb.EventFilter(**f) for f in json.loads(row["filters"])],
    )


def attribute_message(row: aiosqlite.Row) -> pb.Attribute:
    attribute = json_format.Parse(row["spec"], pb.Attribute())
    attribute.id = str(row["id"])
    return attribute


def stitching_key_message(row: aiosqlite.Row) -> pb.StitchingKey:
    return pb.StitchingKey(
        id=str(row["id"]),
        name=row["name"],
        regex=row["regex"],
        exclusions=json.loads(row["exclusions"]),
        workflow_only=bool(row["workflow_only"]),
    )


def segment_message(row: aiosqlite.Row) -> pb.Segment:
    return pb.Segment(
        id=str(row["id"]),
        name=row["name"],
        sensitivity=config_rules.SENSITIVITY_VALUES[row["sensitivity"]],
    )


def _page(rows: list[aiosqlite.Row], size: int) -> tuple[list[aiosqlite.Row], str]:
    return rows[:size], (str(rows[size - 1]["id"]) if len(rows) > size else "")


class ConfigServicer(config_service_pb2_grpc.ConfigServiceServicer):
    def __init__(
        self,
        db: Database,
        flags: FlagsLookup,
        references: ReferencesLookup,
        import_members: MembersImport | None = None,
    ) -> None:
        self._db = db
        self._flags = flags
        self._references = references
        self._import_members = import_members

    # -- parent segments ---------------------------------------------------------------

    async def _segment_row(self, db: aiosqlite.Connection, parent_segment_id: str) -> aiosqlite.Row:
        row = await fetch_one(
            db,
            "SELECT * FROM parent_segments WHERE id = ? AND account_id = ?",
            path_id(parent_segment_id),
            _account(),
        )
        if row is None:
            raise NotFound(f"Parent segment {parent_segment_id!r} not found")
        return row

    async def CreateParentSegment(
        self, request: api.CreateParentSegmentRequest, context: Any
    ) -> Any:
        account = _account()
        segment = request.parent_segment
        primary_key = segment.primary_key.strip()
        if not primary_key:
            raise InvalidArgument(
                "Primary key can't be blank: name the event field that identifies a visitor, "
                "such as td_client_id",
                field="parent_segment.primary_key",
            )
        now = time.time()
        async with self._db.transaction() as db:
            others = await fetch_all(
                db, "SELECT name FROM parent_segments WHERE account_id = ?", account
            )
            name = validate_name(
                segment.name, [r["name"] for r in others], field="parent_segment.name"
            )
            # Never an id a deleted segment had (SQLite would reuse the highest one).
            newest = await fetch_one(
                db,
                "SELECT MAX(id) AS id FROM (SELECT id FROM parent_segments "
                "UNION ALL SELECT id FROM retired_parent_segment_ids)",
            )
            segment_id = int(newest["id"] or 0) + 1 if newest else 1
            await db.execute(
                "INSERT INTO parent_segments (id, account_id, name, description, reactor_id, "
                "primary_key, create_time) VALUES (?, ?, ?, ?, '', ?, ?)",
                (segment_id, account, name, segment.description, primary_key, now),
            )
            # The reactor id appears in tokens; the segment's id is unique and stable.
            await db.execute(
                "UPDATE parent_segments SET reactor_id = ? WHERE id = ?",
                (str(segment_id), segment_id),
            )
            # The primary key is a stitching key; create it so events can be stitched at once.
            await db.execute(
                "INSERT INTO stitching_keys (parent_segment_id, name, regex, exclusions, "
                "workflow_only) VALUES (?, ?, '', '[]', 0)",
                (segment_id, primary_key),
            )
            await config_changed(db, segment_id)
            row = await self._segment_row(db, str(segment_id))
        return parent_segment_message(row)

    async def GetParentSegment(self, request: api.GetParentSegmentRequest, context: Any) -> Any:
        async with self._db.reading() as db:
            return parent_segment_message(await self._segment_row(db, request.parent_segment_id))

    async def ListParentSegments(self, request: api.ListParentSegmentsRequest, context: Any) -> Any:
        size = page_size(request.page_size)
        async with self._db.reading() as db:
            rows = await fetch_all(
                db,
                "SELECT * FROM parent_segments WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?",
                _account(),
                page_after(request.page_token),
                size + 1,
            )
        page, token = _page(rows, size)
        return api.ListParentSegmentsResponse(
            parent_segments=[parent_segment_message(r) for r in page], next_page_token=token
        )

    async def UpdateParentSegment(
        self, request: api.UpdateParentSegmentRequest, context: Any
    ) -> Any:
        paths = set(request.update_mask.paths)
        if paths - {"name", "description"}:
            raise InvalidArgument(
                "Only name and description can be updated; the primary key is fixed at creation",
                field="update_mask",
            )
        changes = request.parent_segment
        async with self._db.transaction() as db:
            row = await self._segment_row(db, request.parent_segment_id)
            name = row["name"]
            if "name" in paths:
                others = await fetch_all(
                    db,
                    "SELECT name FROM parent_segments WHERE account_id = ? AND id != ?",
                    row["account_id"],
                    row["id"],
                )
                name = validate_name(
                    changes.name, [r["name"] for r in others], field="parent_segment.name"
                )
            description = changes.description if "description" in paths else row["description"]
            await db.execute(
                "UPDATE parent_segments SET name = ?, description = ? WHERE id = ?",
                (name, description, row["id"]),
            )
            await config_changed(db, row["id"])
            row = await self._segment_row(db, request.parent_segment_id)
        return parent_segment_message(row)

    async def DeleteParentSegment(
        self, request: api.DeleteParentSegmentRequest, context: Any
    ) -> Any:
        async with self._db.transaction() as db:
            row = await self._segment_row(db, request.parent_segment_id)
            await db.execute("DELETE FROM parent_segments WHERE id = ?", (row["id"],))
            await db.execute("INSERT INTO retired_parent_segment_ids (id) VALUES (?)", (row["id"],))
            await db.execute("UPDATE generation SET value = value + 1 WHERE id = 1")
        return empty_pb2.Empty()

    # -- event definitions ---------------------------------------------------------------

    async def _child(
        self, db: aiosqlite.Connection, table: str, segment: aiosqlite.Row, child_id: str, noun: str
    ) -> aiosqlite.Row:
        row = await fetch_one(
            db,
            f"SELECT * FROM {table} WHERE id = ? AND parent_segment_id = ?",
            path_id(child_id),
            segment["id"],
        )
        if row is None:
            raise NotFound(f"{noun} {child_id!r} not found in parent segment {segment['id']}")
        return row

    async def _names(
        self, db: aiosqlite.Connection, table: str, segment_id: int, except_id: int = -1
    ) -> list[str]:
        rows = await fetch_all(
            db,
            f"SELECT name FROM {table} WHERE parent_segment_id = ? AND id != ?",
            segment_id,
            except_id,
        )
        return [r["name"] for r in rows]

    async def CreateEventDefinition(
        self, request: api.CreateEventDefinitionRequest, context: Any
    ) -> Any:
        event = request.event
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            names = await self._names(db, "event_definitions", segment["id"])
            name = validate_name(event.name, names, field="event.name")
            config_rules.validate_event_definition(event, len(names))
            cursor = await db.execute(
                "INSERT INTO event_definitions (parent_segment_id, name, database, table_name, filters) "
                "VALUES (?, ?, ?, ?, ?)",
                (segment["id"], name, event.database, event.table, _filters_json(event)),
            )
            await config_changed(db, segment["id"])
            row = await self._child(
                db, "event_definitions", segment, str(cursor.lastrowid), "Event definition"
            )
        return event_message(row)

    async def GetEventDefinition(self, request: api.GetEventDefinitionRequest, context: Any) -> Any:
        async with self._db.reading() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            return event_message(
                await self._child(
                    db, "event_definitions", segment, request.event_id, "Event definition"
                )
            )

    async def ListEvents(self, request: api.ListEventsRequest, context: Any) -> Any:
        page, token = await self._list(request, "event_definitions")
        return api.ListEventsResponse(
            events=[event_message(r) for r in page], next_page_token=token
        )

    async def _list(self, request: Any, table: str) -> tuple[list[aiosqlite.Row], str]:
        size = page_size(request.page_size)
        async with self._db.reading() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            rows = await fetch_all(
                db,
                f"SELECT * FROM {table} WHERE parent_segment_id = ? AND id > ? ORDER BY id LIMIT ?",
                segment["id"],
                page_after(request.page_token),
                size + 1,
            )
        return _page(rows, size)

    async def UpdateEventDefinition(
        self, request: api.UpdateEventDefinitionRequest, context: Any
    ) -> Any:
        paths = _mask(request, {"name", "database", "table", "filters"})
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            row = await self._child(
                db, "event_definitions", segment, request.event_id, "Event definition"
            )
            merged = event_message(row)
            _apply_mask(merged, request.event, paths)
            names = await self._names(db, "event_definitions", segment["id"], row["id"])
            merged.name = validate_name(merged.name, names, field="event.name")
            config_rules.validate_event_definition(merged, 0)
            await db.execute(
                "UPDATE event_definitions SET name = ?, database = ?, table_name = ?, filters = ? WHERE id = ?",
                (merged.name, merged.database, merged.table, _filters_json(merged), row["id"]),
            )
            await config_changed(db, segment["id"])
            row = await self._child(
                db, "event_definitions", segment, request.event_id, "Event definition"
            )
        return event_message(row)

    async def DeleteEventDefinition(
        self, request: api.DeleteEventDefinitionRequest, context: Any
    ) -> Any:
        async with self._db.reading() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            row = await self._child(
                db, "event_definitions", segment, request.event_id, "Event definition"
            )
        await self._refuse_if_referenced(
            request.parent_segment_id, "Event definition", row["name"], event=row["name"]
        )
        async with self._db.transaction() as db:
            users = [
                a.name
                for a in map(
                    attribute_message,
                    await fetch_all(
                        db, "SELECT * FROM attributes WHERE parent_segment_id = ?", segment["id"]
                    ),
                )
                if a.event == row["name"]
            ]
            if users:
                raise FailedPrecondition(
                    f"Event definition {row['name']!r} is used by attributes: {', '.join(users)}"
                )
            await db.execute("DELETE FROM event_definitions WHERE id = ?", (row["id"],))
            await config_changed(db, segment["id"])
        return empty_pb2.Empty()

    # -- attributes ----------------------------------------------------------------------

    async def _event_names(self, db: aiosqlite.Connection, segment_id: int) -> list[str]:
        return [
            r["name"]
            for r in await fetch_all(
                db, "SELECT name FROM event_definitions WHERE parent_segment_id = ?", segment_id
            )
        ]

    async def CreateAttribute(self, request: api.CreateAttributeRequest, context: Any) -> Any:
        flags = await self._flags(_account())
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            names = await self._names(db, "attributes", segment["id"])
            attribute = config_rules.validate_attribute(
                request.attribute, await self._event_names(db, segment["id"]), flags, len(names)
            )
            attribute.name = validate_name(request.attribute.name, names, field="attribute.name")
            attribute.ClearField("id")
            cursor = await db.execute(
                "INSERT INTO attributes (parent_segment_id, name, spec) VALUES (?, ?, ?)",
                (segment["id"], attribute.name, json_format.MessageToJson(attribute)),
            )
            await config_changed(db, segment["id"])
            row = await self._child(db, "attributes", segment, str(cursor.lastrowid), "Attribute")
        return attribute_message(row)

    async def GetAttribute(self, request: api.GetAttributeRequest, context: Any) -> Any:
        async with self._db.reading() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            return attribute_message(
                await self._child(db, "attributes", segment, request.attribute_id, "Attribute")
            )

    async def ListAttributes(self, request: api.ListAttributesRequest, context: Any) -> Any:
        page, token = await self._list(request, "attributes")
        return api.ListAttributesResponse(
            attributes=[attribute_message(r) for r in page], next_page_token=token
        )

    async def UpdateAttribute(self, request: api.UpdateAttributeRequest, context: Any) -> Any:
        paths = _mask(request, {"name", "event", "field", "sensitivity", "list", "counter"})
        flags = await self._flags(_account())
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            row = await self._child(db, "attributes", segment, request.attribute_id, "Attribute")
            merged = attribute_message(row)
            _apply_mask(merged, request.attribute, paths)
            names = await self._names(db, "attributes", segment["id"], row["id"])
            attribute = config_rules.validate_attribute(
                merged, await self._event_names(db, segment["id"]), flags, 0
            )
            attribute.name = validate_name(merged.name, names, field="attribute.name")
            attribute.ClearField("id")
            await db.execute(
                "UPDATE attributes SET name = ?, spec = ? WHERE id = ?",
                (attribute.name, json_format.MessageToJson(attribute), row["id"]),
            )
            await config_changed(db, segment["id"])
            row = await self._child(db, "attributes", segment, request.attribute_id, "Attribute")
        return attribute_message(row)

    async def DeleteAttribute(self, request: api.DeleteAttributeRequest, context: Any) -> Any:
        async with self._db.reading() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            row = await self._child(db, "attributes", segment, request.attribute_id, "Attribute")
        await self._refuse_if_referenced(
            request.parent_segment_id, "Attribute", row["name"], attribute=row["name"]
        )
        async with self._db.transaction() as db:
            await db.execute("DELETE FROM attributes WHERE id = ?", (row["id"],))
            await config_changed(db, segment["id"])
        return empty_pb2.Empty()

    # -- stitching keys ------------------------------------------------------------------

    async def CreateStitchingKey(self, request: api.CreateStitchingKeyRequest, context: Any) -> Any:
        key = request.stitching_key
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            names = await self._names(db, "stitching_keys", segment["id"])
            name = validate_name(key.name, names, field="stitching_key.name")
            config_rules.validate_stitching_key(key, len(names))
            cursor = await db.execute(
                "INSERT INTO stitching_keys (parent_segment_id, name, regex, exclusions, workflow_only) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    segment["id"],
                    name,
                    key.regex,
                    json.dumps(list(key.exclusions)),
                    int(key.workflow_only),
                ),
            )
            await config_changed(db, segment["id"])
            row = await self._child(
                db, "stitching_keys", segment, str(cursor.lastrowid), "Stitching key"
            )
        return stitching_key_message(row)

    async def GetStitchingKey(self, request: api.GetStitchingKeyRequest, context: Any) -> Any:
        async with self._db.reading() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            return stitching_key_message(
                await self._child(
                    db, "stitching_keys", segment, request.stitching_key_id, "Stitching key"
                )
            )

    async def ListStitchingKeys(self, request: api.ListStitchingKeysRequest, context: Any) -> Any:
        page, token = await self._list(request, "stitching_keys")
        return api.ListStitchingKeysResponse(
            stitching_keys=[stitching_key_message(r) for r in page], next_page_token=token
        )

    async def UpdateStitchingKey(self, request: api.UpdateStitchingKeyRequest, context: Any) -> Any:
        paths = _mask(request, {"regex", "exclusions", "workflow_only"})
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            row = await self._child(
                db, "stitching_keys", segment, request.stitching_key_id, "Stitching key"
            )
            merged = stitching_key_message(row)
            _apply_mask(merged, request.stitching_key, paths)
            config_rules.validate_stitching_key(merged, 0)
            await db.execute(
                "UPDATE stitching_keys SET regex = ?, exclusions = ?, workflow_only = ? WHERE id = ?",
                (
                    merged.regex,
                    json.dumps(list(merged.exclusions)),
                    int(merged.workflow_only),
                    row["id"],
                ),
            )
            await config_changed(db, segment["id"])
            row = await self._child(
                db, "stitching_keys", segment, request.stitching_key_id, "Stitching key"
            )
        return stitching_key_message(row)

    async def DeleteStitchingKey(self, request: api.DeleteStitchingKeyRequest, context: Any) -> Any:
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            row = await self._child(
                db, "stitching_keys", segment, request.stitching_key_id, "Stitching key"
            )
            if row["name"] == segment["primary_key"]:
                raise FailedPrecondition(
                    f"{row['name']!r} is the parent segment's primary key and cannot be deleted"
                )
            await db.execute("DELETE FROM stitching_keys WHERE id = ?", (row["id"],))
            await config_changed(db, segment["id"])
        return empty_pb2.Empty()

    # -- batch segments ------------------------------------------------------------------

    async def CreateSegment(self, request: api.CreateSegmentRequest, context: Any) -> Any:
        flags = await self._flags(_account())
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            names = await self._names(db, "segments", segment["id"])
            name = validate_name(request.segment.name, names, field="segment.name")
            validated = config_rules.validate_segment(request.segment, flags)
            cursor = await db.execute(
                "INSERT INTO segments (parent_segment_id, name, sensitivity) VALUES (?, ?, ?)",
                (segment["id"], name, config_rules.SENSITIVITY_NAMES[validated.sensitivity]),
            )
            await config_changed(db, segment["id"])
            row = await self._child(db, "segments", segment, str(cursor.lastrowid), "Segment")
        return segment_message(row)

    async def GetSegment(self, request: api.GetSegmentRequest, context: Any) -> Any:
        async with self._db.reading() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            return segment_message(
                await self._child(db, "segments", segment, request.segment_id, "Segment")
            )

    async def ListSegments(self, request: api.ListSegmentsRequest, context: Any) -> Any:
        page, token = await self._list(request, "segments")
        return api.ListSegmentsResponse(
            segments=[segment_message(r) for r in page], next_page_token=token
        )

    async def UpdateSegment(self, request: api.UpdateSegmentRequest, context: Any) -> Any:
        paths = _mask(request, {"name", "sensitivity"})
        flags = await self._flags(_account())
        async with self._db.transaction() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            row = await self._child(db, "segments", segment, request.segment_id, "Segment")
            merged = segment_message(row)
            _apply_mask(merged, request.segment, paths)
            names = await self._names(db, "segments", segment["id"], row["id"])
            name = validate_name(merged.name, names, field="segment.name")
            validated = config_rules.validate_segment(merged, flags)
            await db.execute(
                "UPDATE segments SET name = ?, sensitivity = ? WHERE id = ?",
                (name, config_rules.SENSITIVITY_NAMES[validated.sensitivity], row["id"]),
            )
            await config_changed(db, segment["id"])
            row = await self._child(db, "segments", segment, request.segment_id, "Segment")
        return segment_message(row)

    async def DeleteSegment(self, request: api.DeleteSegmentRequest, context: Any) -> Any:
        async with self._db.reading() as db:
            segment = await self._segment_row(db, request.parent_segment_id)
            row = await self._child(db, "segments", segment, request.segment_id, "Segment")
        await self._refuse_if_referenced(
            request.parent_segment_id, "Segment", row["name"], segment=row["name"]
        )
        async with self._db.transaction() as db:
            await db.execute("DELETE FROM segments WHERE id = ?", (row["id"],))
            await config_changed(db, segment["id"])
        return empty_pb2.Empty()

    async def ImportSegmentMembers(
        self, request: api.ImportSegmentMembersRequest, context: Any
    ) -> Any:
        if self._import_members is None:
            raise FailedPrecondition("Importing segment members is not available here")
        imported = await self._import_members(_account(), request)
        return api.ImportSegmentMembersResponse(imported=imported)

    async def _refuse_if_referenced(
        self, parent_segment_id: str, noun: str, name: str, **reference: str
    ) -> None:
        users = await self._references(parent_segment_id, **reference)
        if users:
            raise FailedPrecondition(
                f"{noun} {name!r} is referenced by personalizations: {', '.join(sorted(users))}. "
                "Remove it from them first.",
                reason="REFERENCED_BY_PERSONALIZATIONS",
            )


def _filters_json(event: pb.EventDefinition) -> str:
    return json.dumps([{"field": f.field, "regex": f.regex} for f in event.filters])


def _mask(request: Any, allowed: set[str]) -> set[str]:
    paths = set(request.update_mask.paths)
    unknown = paths - allowed
    if unknown or not paths:
        raise InvalidArgument(
            f"update_mask must name some of: {', '.join(sorted(allowed))}", field="update_mask"
        )
    return paths


def _apply_mask(target: Any, changes: Any, paths: set[str]) -> None:
    for path in paths:
        field = target.DESCRIPTOR.fields_by_name[path]
        if field.is_repeated:
            target.ClearField(path)
            getattr(target, path).extend(getattr(changes, path))
        elif field.message_type is not None:
            getattr(target, path).CopyFrom(getattr(changes, path))
        else:
            setattr(target, path, getattr(changes, path))
