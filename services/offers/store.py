"""The offers service's durable state: personalizations, in ``offers.db``.

A personalization is stored as the admin API sent it, its sections as JSON, because the
engine compiles that JSON (and a compiled form would go stale when the parent segment's
configuration changes). Every write bumps an in-memory revision per parent segment after
it commits, so the compiled-configuration cache notices without reading the database per
request; with SQLite one process owns the file, so the in-memory count is exact.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from services.common import audit
from services.common.convert import path_id
from services.common.errors import NotFound
from services.common.sql import AsyncSqlite
from services.common.storage import Database, fetch_all, fetch_one
from services.offers.engine import Personalization

MIGRATIONS = [
    """
    CREATE TABLE personalizations (
      id INTEGER PRIMARY KEY,
      parent_segment_id TEXT NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL,
      trigger_events TEXT NOT NULL,
      sections TEXT NOT NULL,
      create_time REAL NOT NULL,
      update_time REAL NOT NULL
    );
    CREATE INDEX personalizations_by_segment ON personalizations (parent_segment_id, id)
    """,
    # Every admin change, in the transaction that makes it (services.common.audit).
    audit.MIGRATION,
]


@dataclass(frozen=True)
class Record:
    """One stored personalization."""

    id: str
    parent_segment_id: str
    name: str
    description: str
    trigger_events: tuple[str, ...]
    sections: tuple[Mapping[str, object], ...]
    create_time: float
    update_time: float

    def personalization(self) -> Personalization:
        """The engine's view of it."""
        return Personalization(self.name, self.trigger_events, self.sections)


@dataclass(frozen=True)
class Draft:
    """The fields of a personalization a write sets."""

    name: str
    description: str
    trigger_events: Sequence[str]
    sections: Sequence[Mapping[str, object]]


def _record(row: aiosqlite.Row) -> Record:
    return Record(
        id=str(row["id"]),
        parent_segment_id=row["parent_segment_id"],
        name=row["name"],
        description=row["description"],
        trigger_events=tuple(json.loads(row["trigger_events"])),
        sections=tuple(json.loads(row["sections"])),
        create_time=row["create_time"],
        update_time=row["update_time"],
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Writer:
    """The writes of one transaction, scoped to one parent segment."""

    def __init__(self, connection: aiosqlite.Connection, parent_segment_id: str) -> None:
        self._db = connection
        self._segment = parent_segment_id

    async def records(self) -> list[Record]:
        return await _records(self._db, self._segment)

    async def record(self, personalization_id: str) -> Record:
        return await _one(self._db, self._segment, personalization_id)

    async def insert(self, draft: Draft) -> Record:
        now = time.time()
        cursor = await self._db.execute(
            "INSERT INTO personalizations (parent_segment_id, name, description, "
            "trigger_events, sections, create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self._segment,
                draft.name,
                draft.description,
                _json(list(draft.trigger_events)),
                _json(list(draft.sections)),
                now,
                now,
            ),
        )
        return await self.record(str(cursor.lastrowid))

    async def update(self, personalization_id: str, draft: Draft) -> Record:
        await self._db.execute(
            "UPDATE personalizations SET name = ?, description = ?, trigger_events = ?, "
            "sections = ?, update_time = ? WHERE id = ? AND parent_segment_id = ?",
            (
                draft.name,
                draft.description,
                _json(list(draft.trigger_events)),
                _json(list(draft.sections)),
                time.time(),
                path_id(personalization_id),
                self._segment,
            ),
        )
        return await self.record(personalization_id)

    async def delete(self, personalization_id: str) -> None:
        await self._db.execute(
            "DELETE FROM personalizations WHERE id = ? AND parent_segment_id = ?",
            (path_id(personalization_id), self._segment),
        )

    async def audit(self, action: str, before: Record | None, after: Record | None) -> None:
        """Records the change of one personalization, in this transaction."""
        changed = after or before
        assert changed is not None  # a change has a before or an after
        await audit.record(
            AsyncSqlite(self._db),
            audit.change(
                action,
                "personalization",
                changed.id,
                None if before is None else _plain(before),
                None if after is None else _plain(after),
                parent=f"parent_segments/{self._segment}",
            ),
        )


def _plain(record: Record) -> dict[str, object]:
    """A personalization as JSON for the audit log (its stored fields, times left out)."""
    return {
        "id": record.id,
        "parent_segment_id": record.parent_segment_id,
        "name": record.name,
        "description": record.description,
        "trigger_events": list(record.trigger_events),
        "sections": [dict(s) for s in record.sections],
    }


class PersonalizationStore:
    """Personalizations per parent segment, with a revision that grows on every write."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._revisions: dict[str, int] = {}

    @classmethod
    async def open(cls, data_dir: Path) -> PersonalizationStore:
        return cls(await Database.open(data_dir / "offers.db", MIGRATIONS))

    async def close(self) -> None:
        await self._db.close()

    def audit_log(self) -> audit.AuditLog:
        """This service's audit entries, for ``InternalOffersService.ListAuditEntries``."""
        return audit.AuditLog(self._db.sql_reading, "offers")

    def revision(self, parent_segment_id: str) -> int:
        """Grows after every committed write to the parent segment's personalizations."""
        return self._revisions.get(parent_segment_id, 0)

    @contextlib.asynccontextmanager
    async def writing(self, parent_segment_id: str) -> AsyncIterator[Writer]:
        """A write transaction; the revision grows once it has committed."""
        try:
            async with self._db.transaction() as connection:
                yield Writer(connection, parent_segment_id)
        finally:
            # Also after a failed write: a needless recompile is cheap, a stale cache is not.
            self._revisions[parent_segment_id] = self.revision(parent_segment_id) + 1

    async def records(self, parent_segment_id: str) -> list[Record]:
        """Every personalization of the parent segment, oldest first."""
        async with self._db.reading() as connection:
            return await _records(connection, parent_segment_id)

    async def record(self, parent_segment_id: str, personalization_id: str) -> Record:
        """One personalization; NOT_FOUND when the parent segment has none by that id."""
        async with self._db.reading() as connection:
            return await _one(connection, parent_segment_id, personalization_id)

    async def page(self, parent_segment_id: str, after: int, size: int) -> list[Record]:
        """Up to ``size`` personalizations whose id is greater than ``after``, oldest first."""
        async with self._db.reading() as connection:
            rows = await fetch_all(
                connection,
                "SELECT * FROM personalizations WHERE parent_segment_id = ? AND id > ? "
                "ORDER BY id LIMIT ?",
                parent_segment_id,
                after,
                size,
            )
        return [_record(row) for row in rows]


async def _records(connection: aiosqlite.Connection, parent_segment_id: str) -> list[Record]:
    rows = await fetch_all(
        connection,
        "SELECT * FROM personalizations WHERE parent_segment_id = ? ORDER BY id",
        parent_segment_id,
    )
    return [_record(row) for row in rows]


async def _one(
    connection: aiosqlite.Connection, parent_segment_id: str, personalization_id: str
) -> Record:
    row = await fetch_one(
        connection,
        "SELECT * FROM personalizations WHERE id = ? AND parent_segment_id = ?",
        path_id(personalization_id),
        parent_segment_id,
    )
    if row is None:
        raise NotFound(
            f"Personalization {personalization_id!r} not found in parent segment "
            f"{parent_segment_id}"
        )
    return _record(row)
