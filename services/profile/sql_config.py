"""The configuration store, written once over ``Sql``: the SQL behind ``config_store``'s
Protocols, for SQLite and PostgreSQL.

Every parent segment's children (event definitions, attributes, stitching keys, segments)
live in a table of their own keyed by ``parent_segment_id``; each table is described once
here (its columns and how a message fills them), so the generic reads and writes below
are the only SQL for all four. A write inside ``writing()`` also marks the segment's
configuration as changed (``config_changed`` below) in the same transaction, and a write
of an attribute or stitching key remembers its withheld names (``withheld_names``, one row
per name, never deleted but with the segment).

A write transaction is exclusive on both backends: SQLite's ``BEGIN IMMEDIATE`` takes the
write lock; on PostgreSQL a READ COMMITTED transaction first locks the ``generation`` row
(which every configuration write updates anyway), so configuration writers of all replicas
run one after another, each seeing everything committed before it (a name checked unique is
still unique at commit, a new parent segment's id is still unused).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from google.protobuf.message import Message
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common import audit, postgres
from services.common.convert import path_id
from services.common.errors import parent_segment_not_found
from services.common.sql import Row, Sql
from services.common.storage import Database
from services.profile import config_rows, config_rules, sensitivity
from services.profile.config_store import (
    ConfigReader,
    ConfigWriter,
    Kind,
    M,
    ParentSegment,
)
from services.profile.sensitivity import WithheldName


@dataclass(frozen=True)
class _Table:
    """How one kind of child is stored."""

    message: Callable[[config_rows.Row], Message]
    # column -> its value for a message, for INSERT (and, for ``updated``, UPDATE)
    columns: Callable[[Any], Mapping[str, object]]
    updated: tuple[str, ...]  # the columns an update writes


_TABLES: dict[str, _Table] = {
    "event_definitions": _Table(
        config_rows.event_message,
        lambda e: {
            "name": e.name,
            "database": e.database,
            "table_name": e.table,
            "filters": config_rows.filters_json(e),
        },
        ("name", "database", "table_name", "filters"),
    ),
    "attributes": _Table(
        config_rows.attribute_message,
        lambda a: {"name": a.name, "spec": config_rows.attribute_spec_json(a)},
        ("name", "spec"),
    ),
    "stitching_keys": _Table(
        config_rows.stitching_key_message,
        lambda k: {
            "name": k.name,
            "regex": k.regex,
            "exclusions": config_rows.exclusions_json(k),
            "workflow_only": int(k.workflow_only),
            "verified": int(k.verified),
        },
        # A key's name is what events and imports refer to it by: fixed at creation.
        ("regex", "exclusions", "workflow_only", "verified"),
    ),
    "segments": _Table(
        config_rows.segment_message,
        lambda s: {
            "name": s.name,
            "sensitivity": config_rules.SENSITIVITY_NAMES[s.sensitivity],
        },
        ("name", "sensitivity"),
    ),
}


def _as(kind: Kind[M], row: Row) -> M:
    return cast(M, _TABLES[kind.collection].message(row))


class SqlConfigReader(ConfigReader):
    """Reads on one connection, inside whatever transaction holds it."""

    def __init__(self, sql: Sql) -> None:
        self._db = sql

    async def parent_segment(self, account_id: str, parent_segment_id: str) -> ParentSegment:
        row = await self._db.fetchrow(
            "SELECT * FROM parent_segments WHERE id = ? AND account_id = ?",
            path_id(parent_segment_id),
            account_id,
        )
        if row is None:
            raise parent_segment_not_found(parent_segment_id)
        return config_rows.parent_segment_message(row)

    async def parent_segments(self, account_id: str, after: int, limit: int) -> list[ParentSegment]:
        rows = await self._db.fetch(
            "SELECT * FROM parent_segments WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?",
            account_id,
            after,
            limit,
        )
        return [config_rows.parent_segment_message(r) for r in rows]

    async def parent_segment_names(
        self, account_id: str, except_id: int | None = None
    ) -> list[str]:
        if except_id is None:
            rows = await self._db.fetch(
                "SELECT name FROM parent_segments WHERE account_id = ?", account_id
            )
        else:
            rows = await self._db.fetch(
                "SELECT name FROM parent_segments WHERE account_id = ? AND id != ?",
                account_id,
                except_id,
            )
        return [r["name"] for r in rows]

    async def child(self, kind: Kind[M], segment_id: int, child_id: str) -> M:
        row = await self._db.fetchrow(
            f"SELECT * FROM {kind.collection} WHERE id = ? AND parent_segment_id = ?",
            path_id(child_id),
            segment_id,
        )
        if row is None:
            raise kind.not_found(child_id, segment_id)
        return _as(kind, row)

    async def children(self, kind: Kind[M], segment_id: int, after: int, limit: int) -> list[M]:
        rows = await self._db.fetch(
            f"SELECT * FROM {kind.collection} WHERE parent_segment_id = ? AND id > ? "
            "ORDER BY id LIMIT ?",
            segment_id,
            after,
            limit,
        )
        return [_as(kind, r) for r in rows]

    async def names(self, kind: Kind[M], segment_id: int, except_id: int = -1) -> list[str]:
        rows = await self._db.fetch(
            f"SELECT name FROM {kind.collection} WHERE parent_segment_id = ? AND id != ?",
            segment_id,
            except_id,
        )
        return [r["name"] for r in rows]

    async def event_names(self, segment_id: int) -> list[str]:
        rows = await self._db.fetch(
            "SELECT name FROM event_definitions WHERE parent_segment_id = ?", segment_id
        )
        return [r["name"] for r in rows]

    async def attributes(self, segment_id: int) -> list[pb.Attribute]:
        """The segment's attributes by name, in code point order (as messages list them)."""
        # SQLite compares names bytewise (UTF-8: code point order); PostgreSQL's "C"
        # collation does the same, whatever the database's own collation is.
        collate = ' COLLATE "C"' if self._db.dialect == "postgresql" else ""
        rows = await self._db.fetch(
            f"SELECT * FROM attributes WHERE parent_segment_id = ? ORDER BY name{collate}",
            segment_id,
        )
        return [config_rows.attribute_message(r) for r in rows]

    async def withheld_names(self, kind: Kind[M], segment_id: int) -> frozenset[WithheldName]:
        rows = await self._db.fetch(
            "SELECT name, part FROM withheld_names WHERE parent_segment_id = ? AND kind = ?",
            segment_id,
            kind.collection,
        )
        return frozenset((r["name"], r["part"]) for r in rows)


class SqlConfigWriter(SqlConfigReader, ConfigWriter):
    """Reads and writes inside one exclusive write transaction."""

    async def create_parent_segment(
        self, account_id: str, name: str, description: str, primary_key: str, now: float
    ) -> ParentSegment:
        # Never an id a deleted segment had (SQLite would reuse the highest one).
        newest = await self._db.fetchrow(
            "SELECT MAX(id) AS id FROM (SELECT id FROM parent_segments "
            "UNION ALL SELECT id FROM retired_parent_segment_ids) AS ids",
        )
        segment_id = int(newest["id"] or 0) + 1 if newest else 1
        await self._db.execute(
            "INSERT INTO parent_segments (id, account_id, name, description, reactor_id, "
            "primary_key, create_time) VALUES (?, ?, ?, ?, '', ?, ?)",
            segment_id,
            account_id,
            name,
            description,
            primary_key,
            now,
        )
        # The reactor id appears in tokens; the segment's id is unique and stable.
        await self._db.execute(
            "UPDATE parent_segments SET reactor_id = ? WHERE id = ?",
            str(segment_id),
            segment_id,
        )
        # The primary key is a stitching key; create it so events can be stitched at once.
        await self._db.execute(
            "INSERT INTO stitching_keys (parent_segment_id, name, regex, exclusions, "
            "workflow_only) VALUES (?, ?, '', '[]', 0)",
            segment_id,
            primary_key,
        )
        await config_changed(self._db, segment_id)
        return await self.parent_segment(account_id, str(segment_id))

    async def update_parent_segment(
        self, account_id: str, segment_id: int, name: str, description: str
    ) -> ParentSegment:
        await self._db.execute(
            "UPDATE parent_segments SET name = ?, description = ? WHERE id = ?",
            name,
            description,
            segment_id,
        )
        await config_changed(self._db, segment_id)
        return await self.parent_segment(account_id, str(segment_id))

    async def delete_parent_segment(self, segment_id: int) -> None:
        await self._db.execute("DELETE FROM parent_segments WHERE id = ?", segment_id)
        await self._db.execute("INSERT INTO retired_parent_segment_ids (id) VALUES (?)", segment_id)
        await self._db.execute("UPDATE generation SET value = value + 1 WHERE id = 1")

    async def insert(self, kind: Kind[M], segment_id: int, child: M) -> M:
        values: Mapping[str, object] = _TABLES[kind.collection].columns(child)
        child_id = await self._db.fetchval(
            f"INSERT INTO {kind.collection} (parent_segment_id, {', '.join(values)}) "
            f"VALUES (?{', ?' * len(values)}) RETURNING id",
            segment_id,
            *values.values(),
        )
        await config_changed(self._db, segment_id)
        stored = await self.child(kind, segment_id, str(child_id))
        await self._remember(kind, segment_id, stored)
        return stored

    async def update(self, kind: Kind[M], segment_id: int, child_id: int, child: M) -> M:
        table: _Table = _TABLES[kind.collection]
        values: Mapping[str, object] = table.columns(child)
        await self._db.execute(
            f"UPDATE {kind.collection} SET {', '.join(f'{c} = ?' for c in table.updated)} "
            "WHERE id = ?",
            *(values[c] for c in table.updated),
            child_id,
        )
        await config_changed(self._db, segment_id)
        stored = await self.child(kind, segment_id, str(child_id))
        await self._remember(kind, segment_id, stored)
        return stored

    async def delete(self, kind: Kind[M], segment_id: int, child_id: int) -> None:
        # Remembered when written already; again here, so a name that the migration's or a
        # write's memory missed is still kept once its child goes.
        await self._remember(kind, segment_id, await self.child(kind, segment_id, str(child_id)))
        await self._db.execute(f"DELETE FROM {kind.collection} WHERE id = ?", child_id)
        await config_changed(self._db, segment_id)

    async def _remember(self, kind: Kind[M], segment_id: int, child: M) -> None:
        """Remembers the names under which ``child`` withholds values (see config_store)."""
        if not isinstance(child, (pb.Attribute, pb.StitchingKey)):
            return
        names = sensitivity.withheld_names(child)
        if names:
            await self._db.executemany(
                "INSERT INTO withheld_names (parent_segment_id, kind, name, part) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(segment_id, kind.collection, name, part) for name, part in names],
            )

    async def record(self, entry: audit.Entry) -> None:
        await audit.record(self._db, entry)


class SqliteConfigStore:
    """``ConfigStore`` over the profile service's SQLite ``Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[ConfigReader]:
        async with self._db.sql_reading() as sql:
            yield SqlConfigReader(sql)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[ConfigWriter]:
        async with self._db.sql_transaction() as sql:
            yield SqlConfigWriter(sql)


class PostgresConfigStore:
    """``ConfigStore`` over the profile schema's asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[ConfigReader]:
        async with postgres.snapshot(self._pool) as sql:
            yield SqlConfigReader(sql)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[ConfigWriter]:
        async with postgres.transaction(self._pool) as sql:
            # One configuration writer at a time across replicas (see the module docstring).
            await sql.execute("SELECT value FROM generation WHERE id = 1 FOR UPDATE")
            yield SqlConfigWriter(sql)


async def config_changed(sql: Sql, parent_segment_id: int) -> None:
    """Marks a parent segment's configuration as changed (call inside the transaction)."""
    await sql.execute(
        "UPDATE parent_segments SET config_version = config_version + 1 WHERE id = ?",
        parent_segment_id,
    )
    await sql.execute("UPDATE generation SET value = value + 1 WHERE id = 1")
