"""The data path's reads of configuration, written once over ``Sql`` for both backends.

``realtime.ConfigCache`` asks these inside the caller's transaction (a group-commit batch on
SQLite, run whole on the database thread; a READ COMMITTED transaction on PostgreSQL), so the
version it compares is the one committed when the event's transaction read it (on PostgreSQL
a write reads it once more before it commits, ``realtime.still_current``). The admin
side writes the same rows through ``sql_config``; the row mapping is shared (``config_rows``).
"""

from __future__ import annotations

from collections.abc import Sequence

from p13n.profile.v1 import internal_service_pb2 as api

from services.common.convert import path_id
from services.common.errors import parent_segment_not_found
from services.common.sql import Row, Sql
from services.profile.config_rows import (
    attribute_message,
    event_message,
    segment_message,
    stitching_key_message,
)

# (account id, database, table) -> the parent segments with an event definition on it
TableIndex = dict[tuple[str, str, str], tuple[int, ...]]


async def load_realtime_config(sql: Sql, parent_segment_id: str) -> api.RealtimeConfig:
    """A parent segment's whole configuration, read in one go."""
    segment_id = path_id(parent_segment_id)
    row = await sql.fetchrow("SELECT * FROM parent_segments WHERE id = ?", segment_id)
    if row is None:
        raise parent_segment_not_found(parent_segment_id)

    async def children(table: str) -> Sequence[Row]:
        return await sql.fetch(
            f"SELECT * FROM {table} WHERE parent_segment_id = ? ORDER BY id", segment_id
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


async def config_version(sql: Sql, segment_id: int) -> tuple[int, float] | None:
    """The segment's (config_version, create_time), or None when there is no such segment."""
    row = await sql.fetchrow(
        "SELECT config_version, create_time FROM parent_segments WHERE id = ?", segment_id
    )
    return None if row is None else (int(row[0]), float(row[1]))


async def generation(sql: Sql) -> int:
    """Grows with every configuration change of any parent segment."""
    value = await sql.fetchval("SELECT value FROM generation WHERE id = 1")
    return int(value or 0)


async def table_index(sql: Sql) -> TableIndex:
    """Every account's event tables and the parent segments that define events on them."""
    rows = await sql.fetch(
        "SELECT DISTINCT p.account_id, e.database, e.table_name, p.id "
        "FROM event_definitions e JOIN parent_segments p ON p.id = e.parent_segment_id "
        "ORDER BY p.id",
    )
    tables: TableIndex = {}
    for r in rows:
        where = (r[0], r[1], r[2])
        tables[where] = (*tables.get(where, ()), int(r[3]))
    return tables


async def event_tables(sql: Sql) -> Sequence[Row]:
    """Every parent segment's event tables: (parent_segment_id, database, table_name)."""
    return await sql.fetch(
        "SELECT DISTINCT parent_segment_id, database, table_name FROM event_definitions"
    )
