"""The data path's transactions on SQLite: group-commit units and reads in one hop.

Writes run as units of ``GroupCommit`` (one transaction, one fsync for every unit waiting);
reads run under the store's lock (``Database.run_sync``). Either way the work, a coroutine
over ``Sql`` that never suspends on ``ThreadSqlite``, runs whole on the database thread:
one hop however many statements it makes.
"""

from __future__ import annotations

import sqlite3

from services.common.sql import ThreadSqlite, run_to_completion
from services.common.storage import Database
from services.profile.group_commit import GroupCommit
from services.profile.sql_profile import T, Transactions, Work


class SqliteTransactions(Transactions):
    """``Transactions`` over the profile service's SQLite ``Database`` and its writer."""

    def __init__(self, db: Database, writer: GroupCommit) -> None:
        self._db = db
        self._writer = writer

    async def write(self, work: Work[T], remaining: float | None = None) -> T:
        return await self._writer.run_sync(lambda conn: _run(conn, work), remaining=remaining)

    async def read(self, work: Work[T]) -> T:
        return await self._db.run_sync(_run, work)

    async def write_unlocked(self, work: Work[T | None]) -> None:  # noqa: ARG002
        # The one writer batches every write already: nothing to spare.
        return None


def _run(conn: sqlite3.Connection, work: Work[T]) -> T:
    """``work`` on the database thread, whole."""
    return run_to_completion(work(ThreadSqlite(conn)))
