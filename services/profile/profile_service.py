"""The profile service's data and internal RPCs: configuration snapshots, event tables.

Track, profiles, imports and the merge log arrive with the profile issue; until then the
generated base answers UNIMPLEMENTED for them.
"""

from __future__ import annotations

from typing import Any

from p13n.profile.v1 import profile_service_pb2 as api
from p13n.profile.v1 import profile_service_pb2_grpc

from services.common.errors import NotFound
from services.common.storage import Database, fetch_all, fetch_one
from services.profile.config_service import (
    attribute_message,
    event_message,
    segment_message,
    stitching_key_message,
)


async def load_realtime_config(db: Any, parent_segment_id: str) -> api.RealtimeConfig:
    """A parent segment's whole configuration, read in one go."""
    segment_id = int(parent_segment_id) if parent_segment_id.isdigit() else -1
    row = await fetch_one(db, "SELECT * FROM parent_segments WHERE id = ?", segment_id)
    if row is None:
        raise NotFound(f"Parent segment {parent_segment_id!r} not found")

    async def children(table: str) -> list[Any]:
        return await fetch_all(
            db, f"SELECT * FROM {table} WHERE parent_segment_id = ? ORDER BY id", segment_id
        )

    return api.RealtimeConfig(
        version=row["config_version"],
        parent_segment_id=str(row["id"]),
        account_id=row["account_id"],
        primary_key=row["primary_key"],
        events=[event_message(r) for r in await children("event_definitions")],
        attributes=[attribute_message(r) for r in await children("attributes")],
        stitching_keys=[stitching_key_message(r) for r in await children("stitching_keys")],
        segments=[segment_message(r) for r in await children("segments")],
    )


class ProfileServicer(profile_service_pb2_grpc.ProfileServiceServicer):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def GetRealtimeConfig(
        self, request: api.GetRealtimeConfigRequest, context: Any
    ) -> api.RealtimeConfig:
        async with self._db.reading() as db:
            return await load_realtime_config(db, request.parent_segment_id)

    async def ListEventTables(
        self, request: api.ListEventTablesRequest, context: Any
    ) -> api.ListEventTablesResponse:
        async with self._db.reading() as db:
            rows = await fetch_all(
                db,
                "SELECT DISTINCT parent_segment_id, database, table_name FROM event_definitions",
            )
        return api.ListEventTablesResponse(
            tables=[
                api.EventTable(
                    parent_segment_id=str(r["parent_segment_id"]),
                    database=r["database"],
                    table=r["table_name"],
                )
                for r in rows
            ]
        )
