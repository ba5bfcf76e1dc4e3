"""What the SQLite halves of the auth store share: the database, and the generation counter.

``generation`` is one row that every change affecting a data-plane decision increments in
the same transaction as the change (see ``services.auth.store_protocols``); every auth
process polls it to know when its in-memory directory is stale.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite

from services.common.storage import Database

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


class SqliteBase:
    """Holds the one ``Database`` every SQLite part of the auth store works on."""

    def __init__(self, db: Database) -> None:
        self._db = db


async def bump_generation(connection: aiosqlite.Connection) -> None:
    """Tells every auth process that its directory is stale (call inside a transaction)."""
    await connection.execute("UPDATE generation SET value = value + 1 WHERE id = 1")


async def read_generation(connection: aiosqlite.Connection) -> int:
    async with connection.execute("SELECT value FROM generation WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


def json_list(text: str) -> list[str]:
    """A JSON array of strings as stored in a TEXT column."""
    return [str(v) for v in json.loads(text)]


def record_from_row(cls: type[R], row: aiosqlite.Row, **converted: Any) -> R:
    """A record whose fields are the row's columns of the same names.

    ``converted`` gives the fields a column cannot be taken as is for (JSON text, BLOBs).
    """
    plain = {f.name: row[f.name] for f in dataclasses.fields(cls) if f.name not in converted}
    return cls(**plain, **converted)
