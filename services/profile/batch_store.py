"""Batch data: imported attribute values and batch segment members, over ``Sql``.

Both are kept per (parent segment, stitching key, value), not per profile, and joined through
a profile's identities when it is read (``profiles``), so a merge never moves them. What may
be written is decided by ``imports``; these are its statements, run inside the caller's write
transaction (a unit of the group-commit writer on SQLite, a READ COMMITTED transaction on
PostgreSQL, ``postgres_profile``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from services.common.sql import Sql

# Merges the new attributes into what is stored, a null removing one (a first import may
# store a null: it reads as no value). SQLite: json_patch (RFC 7396); PostgreSQL: jsonb
# concatenation without the nulls, which reads the same.
_MERGED = {
    "sqlite": "json_patch(imported_values.attributes, excluded.attributes)",
    "postgresql": (
        "jsonb_strip_nulls(imported_values.attributes::jsonb || excluded.attributes::jsonb)::text"
    ),
}


async def write_imported_values(
    sql: Sql,
    parent_segment_id: int,
    key: str,
    rows: Sequence[tuple[str, Mapping[str, object]]],
    now: float,
) -> None:
    """Merges each value's attributes into what is stored for it (None removes one)."""
    if not rows:
        return
    await sql.executemany(
        "INSERT INTO imported_values (parent_segment_id, key, value, attributes, update_time) "
        "VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (parent_segment_id, key, value) DO UPDATE SET "
        f"attributes = {_MERGED[sql.dialect]}, "
        "update_time = excluded.update_time",
        # By value (stable: a value given twice keeps its order), so that two imports on
        # PostgreSQL lock shared rows in one order and never deadlock.
        [
            (parent_segment_id, key, value, json.dumps(dict(given)), now)
            for value, given in sorted(rows, key=lambda row: row[0])
        ],
    )


async def add_segment_members(
    sql: Sql,
    parent_segment_id: int,
    key: str,
    segment_id: int,
    values: Iterable[str],
    now: float,
) -> None:
    """Adds the values to the batch segment; a value already in it keeps its first add time."""
    rows = [(parent_segment_id, key, value, segment_id, now) for value in sorted(values)]
    if rows:
        await sql.executemany(
            "INSERT INTO segment_members "
            "(parent_segment_id, key, value, segment_id, add_time) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            rows,
        )
