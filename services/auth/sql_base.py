"""What the parts of the auth store share: the backend, and the generation counter.

``generation`` is one row that every change affecting a data-plane decision increments in
the same transaction as the change (see ``services.auth.store_protocols``); every auth
process polls it to know when its in-memory directory is stale. On PostgreSQL the bump also
notifies ``backends.CHANNEL``, delivered at commit, so the other replicas reload at once
instead of at their next poll.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, TypeVar

from services.auth.backends import CHANNEL, Backend
from services.common.sql import Row, Sql

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


class SqlBase:
    """Holds the one ``Backend`` every part of the auth store works on."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend


async def bump_generation(sql: Sql) -> None:
    """Tells every auth process that its directory is stale (call inside a transaction)."""
    await sql.execute("UPDATE generation SET value = value + 1 WHERE id = 1")
    if sql.dialect == "postgresql":
        # The payload names the schema: listeners of other suites' schemas ignore it.
        await sql.execute("SELECT pg_notify(?, current_schema())", CHANNEL)


async def read_generation(sql: Sql) -> int:
    value = await sql.fetchval("SELECT value FROM generation WHERE id = 1")
    return int(value) if value is not None else 0


async def inserted_id(sql: Sql, statement: str, *args: object) -> int:
    """Runs an ``INSERT … RETURNING id`` and gives the new row's id."""
    return int(await sql.fetchval(statement, *args))


def json_list(text: str) -> list[str]:
    """A JSON array of strings as stored in a TEXT column."""
    return [str(v) for v in json.loads(text)]


def record_from_row(cls: type[R], row: Row, **converted: Any) -> R:
    """A record whose fields are the row's columns of the same names.

    ``converted`` gives the fields a column cannot be taken as is for (JSON text, BLOBs).
    """
    plain = {f.name: row[f.name] for f in dataclasses.fields(cls) if f.name not in converted}
    return cls(**plain, **converted)
