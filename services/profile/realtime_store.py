"""The data path's reads of configuration, in SQLite: synchronous, on the database thread.

``realtime.ConfigCache`` asks these inside a group-commit batch (or a ``run_sync`` call), so
each is a plain ``sqlite3`` statement with no hop back to the event loop. The admin side
writes the same rows through ``sqlite_config``; the row mapping is shared (``config_rows``).
"""

from __future__ import annotations

import sqlite3

from p13n.profile.v1 import internal_service_pb2 as api

from services.common.convert import path_id
from services.common.errors import parent_segment_not_found
from services.common.storage import query_all, query_one
from services.profile.config_rows import (
    attribute_message,
    event_message,
    segment_message,
    stitching_key_message,
)

# (account id, database, table) -> the parent segments with an event definition on it
TableIndex = dict[tuple[str, str, str], tuple[int, ...]]


def load_realtime_config(conn: sqlite3.Connection, parent_segment_id: str) -> api.RealtimeConfig:
    """A parent segment's whole configuration, read in one go."""
    segment_id = path_id(parent_segment_id)
    row = query_one(conn, "SELECT * FROM parent_segments WHERE id = ?", segment_id)
    if row is None:
        raise parent_segment_not_found(parent_segment_id)

    def children(table: str) -> list[sqlite3.Row]:
        return query_all(
            conn, f"SELECT * FROM {table} WHERE parent_segment_id = ? ORDER BY id", segment_id
        )

    return api.RealtimeConfig(
        version=row["config_version"],
        parent_segment_id=str(row["id"]),
        account_id=row["account_id"],
        primary_key=row["primary_key"],
        events=[event_message(r) for r in children("event_definitions")],
        attributes=[attribute_message(r) for r in children("attributes")],
        stitching_keys=[stitching_key_message(r) for r in children("stitching_keys")],
        segments=[segment_message(r) for r in children("segments")],
    )


def config_version(conn: sqlite3.Connection, segment_id: int) -> tuple[int, float] | None:
    """The segment's (config_version, create_time), or None when there is no such segment."""
    row = query_one(
        conn,
        "SELECT config_version, create_time FROM parent_segments WHERE id = ?",
        segment_id,
    )
    return None if row is None else (row[0], row[1])


def generation(conn: sqlite3.Connection) -> int:
    """Grows with every configuration change of any parent segment."""
    row = query_one(conn, "SELECT value FROM generation WHERE id = 1")
    return int(row[0]) if row else 0


def table_index(conn: sqlite3.Connection) -> TableIndex:
    """Every account's event tables and the parent segments that define events on them."""
    rows = query_all(
        conn,
        "SELECT DISTINCT p.account_id, e.database, e.table_name, p.id "
        "FROM event_definitions e JOIN parent_segments p ON p.id = e.parent_segment_id "
        "ORDER BY p.id",
    )
    tables: TableIndex = {}
    for r in rows:
        where = (r[0], r[1], r[2])
        tables[where] = (*tables.get(where, ()), int(r[3]))
    return tables
