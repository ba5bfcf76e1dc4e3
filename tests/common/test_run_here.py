"""``Database.run_here``: the connection used from the event loop's thread, never beside the
database thread.

A holder of the database's lock that is cancelled while it awaits a statement leaves the
statement running on aiosqlite's thread; ``run_here``, which takes the lock next, must find
that thread idle. A SQL function that sleeps keeps a statement running for as long as a test
needs, with no timing assumption: the test waits for the statement to have started, cancels
its caller, and checks that ``run_here`` ran only after the statement ended.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from services.common.aiosqlite_thread import call_on_thread
from services.common.storage import Database, Tuning

MIGRATIONS = ["CREATE TABLE rows (name TEXT PRIMARY KEY)"]


class SlowStatement:
    """``SELECT slow()``: runs 0.3 s on the database thread and says when it started and
    when it ended."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.started = asyncio.Event()
        self.ended = threading.Event()

    def __call__(self) -> int:
        self._loop.call_soon_threadsafe(self.started.set)
        time.sleep(0.3)
        self.ended.set()
        return 1


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "x.db", MIGRATIONS, Tuning(loop_writes=True))
    yield database
    await database.close()


async def _slow(db: Database) -> SlowStatement:
    slow = SlowStatement(asyncio.get_running_loop())
    await call_on_thread(db.connection, lambda conn: conn.create_function("slow", 0, slow))
    return slow


async def _in_reading(db: Database) -> None:
    async with db.reading() as conn:
        await conn.execute("SELECT slow()")


async def _in_run_sync(db: Database) -> None:
    await db.run_sync(lambda conn: conn.execute("SELECT slow()").fetchone())


async def _in_transaction(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO rows VALUES ('cancelled')")
        await conn.execute("SELECT slow()")


@pytest.mark.parametrize(
    "holder", [_in_reading, _in_run_sync, _in_transaction], ids=lambda f: f.__name__[4:]
)
async def test_a_cancelled_holder_lets_go_only_once_the_thread_is_idle(
    db: Database, holder: Callable[[Database], Coroutine[Any, Any, None]]
) -> None:
    slow = await _slow(db)
    task = asyncio.create_task(holder(db))
    await slow.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    def write(conn: sqlite3.Connection) -> bool:
        # Read before any statement: SQLite's own mutex would make a statement wait anyway.
        thread_was_idle = slow.ended.is_set()
        conn.execute("INSERT INTO rows VALUES ('after')")
        return thread_was_idle

    assert await db.run_here(write), "run_here used the connection while the thread ran"
    # A cancelled transaction was rolled back; the write made here is the connection's own.
    async with db.reading() as conn, conn.execute("SELECT name FROM rows") as cursor:
        assert [row[0] for row in await cursor.fetchall()] == ["after"]


async def test_run_here_runs_on_the_loop_thread(db: Database) -> None:
    assert await db.run_here(lambda _conn: threading.get_ident()) == threading.get_ident()


async def test_a_database_not_opened_for_it_refuses_run_here(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "y.db", MIGRATIONS)
    try:
        with pytest.raises(sqlite3.ProgrammingError, match="same thread"):
            await database.run_here(lambda conn: conn.execute("SELECT 1"))
    finally:
        await database.close()
