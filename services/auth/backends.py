"""Where the auth store's statements run: one SQLite file, or a PostgreSQL schema.

The store (``services.auth.store``) writes every statement once against ``Sql``; a backend
only says how a read and a write transaction are opened, and how a process hears that
another one changed the credentials:

- ``SqliteBackend``: the data directory's ``auth.db``, one connection behind a lock; a
  writer is ``BEGIN IMMEDIATE``, so writers are serialized by SQLite itself. Other processes
  on the same file are found by the directory's poll of the generation (nothing to hear).
- ``PostgresBackend``: a pool on the service's schema. A read is one REPEATABLE READ
  snapshot, so a reader sees one consistent view (the generation and the credentials of
  that generation together). A writer first locks the generation row (``FOR UPDATE``): every
  write of every replica then runs one at a time, as under SQLite's ``BEGIN IMMEDIATE``, so
  a name checked for uniqueness or a count checked against its limit is still true at
  commit, with no retry loop around a caller's block (a context manager cannot re-run it).
  Admin writes are rare; serializing them costs nothing that matters. ``listening`` runs a
  ``Listener`` on ``CHANNEL``: every bump of the generation notifies it in the same
  transaction, with the schema as payload (a database can hold several suites' schemas).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import asyncpg

from services.common import postgres
from services.common.sql import Dialect, Sql
from services.common.storage import Database

log = logging.getLogger(__name__)

# The notification channel every auth process listens on; the payload names the schema.
CHANNEL = "p13n_auth_changes"


class Backend(Protocol):
    dialect: Dialect

    def reading(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        """One consistent view of committed data."""
        ...

    def writing(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        """A write transaction, serialized with every other writer; rolled back on error."""
        ...

    def updating(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        """A write transaction that need not queue behind the writers (it locks its rows)."""
        ...

    @property
    def schema_name(self) -> str:
        """What notifications of this store are prefixed with ("" where there are none)."""
        ...

    def listening(
        self, on_change: Callable[[], None]
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Calls ``on_change`` when another process may have changed the credentials."""
        ...

    def listening_on(
        self, channel: str, on_payload: Callable[[str], None]
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Calls ``on_payload`` with each notification on ``channel`` (none on SQLite)."""
        ...

    async def close(self) -> None: ...


class SqliteBackend:
    dialect: Dialect = "sqlite"

    def __init__(self, db: Database) -> None:
        self.db = db

    def reading(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        return self.db.sql_reading()

    def writing(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        return self.db.sql_transaction()

    def updating(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        return self.writing()  # BEGIN IMMEDIATE serializes every writer anyway

    @property
    def schema_name(self) -> str:
        return ""

    @contextlib.asynccontextmanager
    async def listening(self, on_change: Callable[[], None]) -> AsyncIterator[None]:
        # One file has no channel: processes sharing it rely on the generation poll.
        del on_change
        yield

    @contextlib.asynccontextmanager
    async def listening_on(
        self, channel: str, on_payload: Callable[[str], None]
    ) -> AsyncIterator[None]:
        del channel, on_payload
        yield

    async def close(self) -> None:
        await self.db.close()


class PostgresBackend:
    dialect: Dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str, schema: str) -> None:
        self.pool = pool
        self._url = url
        self.schema = schema

    def reading(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        return postgres.snapshot(self.pool)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[Sql]:
        async with postgres.transaction(self.pool) as sql:
            # Every writer queues here, on every replica (see the module docstring).
            await sql.execute("SELECT value FROM generation WHERE id = 1 FOR UPDATE")
            yield sql

    def updating(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        return postgres.transaction(self.pool)

    @property
    def schema_name(self) -> str:
        return self.schema

    def listening(
        self, on_change: Callable[[], None]
    ) -> contextlib.AbstractAsyncContextManager[None]:
        def heard(payload: str) -> None:
            # "" is a reconnect (whatever was sent meanwhile is lost): reload to be sure.
            if payload in ("", self.schema):
                on_change()

        return self.listening_on(CHANNEL, heard)

    @contextlib.asynccontextmanager
    async def listening_on(
        self, channel: str, on_payload: Callable[[str], None]
    ) -> AsyncIterator[None]:
        # A listener that cannot start yet keeps trying; the poll serves meanwhile.
        listener = postgres.Listener(self._url, channel, on_payload)
        await listener.start()
        try:
            yield
        finally:
            await listener.close()

    async def close(self) -> None:
        await self.pool.close()
