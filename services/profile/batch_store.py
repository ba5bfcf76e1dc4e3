"""Batch data in SQLite: imported attribute values and batch segment members.

Both are kept per (parent segment, stitching key, value), not per profile, and joined through
a profile's identities when it is read (``profiles``), so a merge never moves them. What may
be written is decided by ``imports``; these are its statements, run inside a unit of the
group-commit writer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import aiosqlite


async def write_imported_values(
    conn: aiosqlite.Connection,
    parent_segment_id: int,
    key: str,
    rows: Sequence[tuple[str, Mapping[str, object]]],
    now: float,
) -> None:
    """Merges each value's attributes into what is stored for it (None removes one)."""
    # json_patch merges the new attributes into what is there, and a null removes one (a
    # first import may store a null: it reads as no value).
    await conn.executemany(
        "INSERT INTO imported_values (parent_segment_id, key, value, attributes, update_time) "
        "VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (parent_segment_id, key, value) DO UPDATE SET "
        "attributes = json_patch(attributes, excluded.attributes), "
        "update_time = excluded.update_time",
        [(parent_segment_id, key, value, json.dumps(dict(given)), now) for value, given in rows],
    )


async def add_segment_members(
    conn: aiosqlite.Connection,
    parent_segment_id: int,
    key: str,
    segment_id: int,
    values: Iterable[str],
    now: float,
) -> None:
    """Adds the values to the batch segment; a value already in it keeps its first add time."""
    await conn.executemany(
        "INSERT OR IGNORE INTO segment_members "
        "(parent_segment_id, key, value, segment_id, add_time) VALUES (?, ?, ?, ?, ?)",
        [(parent_segment_id, key, value, segment_id, now) for value in values],
    )
