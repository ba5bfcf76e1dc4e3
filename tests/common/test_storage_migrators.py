"""Two processes migrating one SQLite file apply each migration once (issue 18 review).

The auth service starting beside another opener of ``auth.db`` both read ``user_version``
0; ``migrate`` read it before ``BEGIN IMMEDIATE``, so the second to get the write lock
applied migration 1 again ("table ... already exists"). It now reads it again under the
lock. The test makes that interleaving certain: a third connection holds the write lock
until both migrators have read the version and are about to take the lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, cast

import aiosqlite

from services.common.storage import migrate, open_database

MIGRATIONS = [
    "CREATE TABLE applied (number INTEGER NOT NULL); INSERT INTO applied VALUES (1)",
    "INSERT INTO applied VALUES (2)",
]


class _AnnouncesItsWriteLock:
    """A real connection that says when its migrator is about to take the write lock."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self.taking_lock = asyncio.Event()

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "BEGIN IMMEDIATE":
            self.taking_lock.set()
        return self._connection.execute(sql, *args)


async def test_two_migrators_of_one_file_apply_each_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    # Two connections set up as open_database sets them up (WAL, busy timeout), unmigrated.
    connections = [await open_database(path, []) for _ in range(2)]
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        migrators = [_AnnouncesItsWriteLock(c) for c in connections]
        runs = [
            asyncio.create_task(migrate(cast(aiosqlite.Connection, m), MIGRATIONS))
            for m in migrators
        ]
        # Both have read user_version 0 and wait for the lock (busy timeout 5 s).
        await asyncio.wait_for(
            asyncio.gather(*(m.taking_lock.wait() for m in migrators)), timeout=5
        )
        blocker.execute("COMMIT")
        await asyncio.wait_for(asyncio.gather(*runs), timeout=10)
        assert blocker.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        applied = blocker.execute("SELECT number FROM applied ORDER BY number").fetchall()
        assert [row[0] for row in applied] == [1, 2]
    finally:
        blocker.close()
        for connection in connections:
            await connection.close()
