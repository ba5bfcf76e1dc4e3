"""The embedded store: one aiosqlite connection per database file, migrated on open.

Durability first: WAL with ``synchronous=FULL`` means a committed transaction survives a
crash or power loss, and a busy timeout lets the CLI (``p13n bootstrap``) write beside a
running service. Migrations are an ordered list of SQL scripts; ``PRAGMA user_version``
records how many have run, so each runs exactly once, inside a transaction.

A busy database (the profile store) is opened with a ``Tuning``: a larger page cache, and
WAL checkpoints from a thread of their own instead of inside the writer's COMMIT
(``services.common.checkpoints``). The others keep SQLite's defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from services.common.aiosqlite_thread import call_here, call_on_thread
from services.common.checkpoints import Checkpointer, CheckpointPolicy, checkpoint
from services.common.files import create_private_file
from services.common.sql import AsyncSqlite, Sql

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
DEFAULT_CACHE_KIB = 2000  # SQLite's own default page cache (``PRAGMA cache_size = -2000``)


@dataclass(frozen=True)
class Tuning:
    """How a database is opened beyond the settings every database gets.

    ``cache_kib`` bounds SQLite's page cache of the serving connection (it counts in the
    process's resident memory); ``checkpoints``, when given, moves WAL checkpoints off the
    serving connection to a ``Checkpointer``.
    """

    cache_kib: int = DEFAULT_CACHE_KIB
    checkpoints: CheckpointPolicy | None = None
    # Whether ``Database.run_here`` may use the connection from the event loop's thread
    # (the profile writer in the single-process mode); else sqlite3 refuses any thread but
    # aiosqlite's, as it does by default.
    loop_writes: bool = False


async def open_database(
    path: Path, migrations: Sequence[str], tuning: Tuning = Tuning()
) -> aiosqlite.Connection:
    """Opens (creating if needed) the database at ``path`` and applies pending migrations."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Owner-only whatever the umask; SQLite gives the -wal and -shm files the same mode.
    create_private_file(path)
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly
    # what the code says it is.
    db = await aiosqlite.connect(
        path, isolation_level=None, check_same_thread=not tuning.loop_writes
    )
    db.row_factory = aiosqlite.Row
    try:
        await run_sync(db, configure, tuning)
        await migrate(db, migrations)
    except BaseException:
        await db.close()
        raise
    return db


def configure(conn: sqlite3.Connection, tuning: Tuning = Tuning()) -> None:
    """The serving connection's settings (durability first, see the module docstring)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{tuning.cache_kib}")
    if tuning.checkpoints is not None:
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        # After a burst the WAL file is cut back to this size when it is next reused.
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        conn.execute(f"PRAGMA journal_size_limit = {tuning.checkpoints.max_frames * page}")


async def migrate(db: aiosqlite.Connection, migrations: Sequence[str]) -> None:
    """Runs the migrations that have not run yet, each in its own transaction."""
    version = _check_known(db, await _user_version(db), migrations)
    while version < len(migrations):
        await db.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process migrating the same file (the
            # auth service starting beside another opener) may have applied it meanwhile.
            version = _check_known(db, await _user_version(db), migrations)
            applied = version < len(migrations)
            if applied:
                for statement in _statements(migrations[version]):
                    await db.execute(statement)
                version += 1
                await db.execute(f"PRAGMA user_version = {version}")
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        if applied:
            log.info("applied migration %s", version)


async def _user_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


def _check_known(db: aiosqlite.Connection, version: int, migrations: Sequence[str]) -> int:
    if version > len(migrations):
        raise RuntimeError(
            f"{db!r} is at schema version {version}, newer than this code knows "
            f"({len(migrations)}): run a newer p13n"
        )
    return version


def _statements(script: str) -> list[str]:
    # Migrations are plain DDL without semicolons inside literals or triggers, so a split on
    # ';' is exact; executescript() would commit implicitly and break the transaction.
    return [s.strip() for s in script.split(";") if s.strip()]


async def run_sync(db: aiosqlite.Connection, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs ``fn(sqlite3_connection, *args)`` on aiosqlite's thread: one hop for all of it.

    Each ``await db.execute(...)`` is a round trip to aiosqlite's worker thread and back
    (a queue put, a thread wake-up, a future resolved on the loop). A function that issues
    many statements is far cheaper run whole on that thread, where statements are plain
    sqlite3 calls. aiosqlite runs every callable of a connection on its one thread, in
    order, so ``fn`` is serialized with every other use of the connection; the caller
    still holds the ``Database`` lock when atomicity with other coroutines matters.
    (aiosqlite has no public call for this: ``aiosqlite_thread`` adapts its private one.)
    """
    return await call_on_thread(db, fn, *args, **kwargs)


class Database:
    """One connection shared by a process's coroutines, one transaction at a time.

    A sqlite connection has a single transaction; without the lock two handlers could
    interleave their statements inside each other's BEGIN/COMMIT.
    """

    def __init__(
        self, connection: aiosqlite.Connection, checkpointer: Checkpointer | None = None
    ) -> None:
        self.connection = connection
        self.checkpointer = checkpointer
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls, path: Path, migrations: Sequence[str], tuning: Tuning = Tuning()
    ) -> Database:
        connection = await open_database(path, migrations, tuning)
        if tuning.checkpoints is None:
            return cls(connection)
        checkpointer = Checkpointer(path, tuning.checkpoints)
        checkpointer.start()
        return cls(connection, checkpointer)

    def before_write(self, conn: sqlite3.Connection) -> None:
        """Call on the database thread before BEGIN of a write transaction.

        Lets the checkpointer finish a checkpoint the writer never paused for (see
        ``services.common.checkpoints``); does nothing otherwise.
        """
        if self.checkpointer is not None:
            self.checkpointer.before_write(conn)

    @contextlib.asynccontextmanager
    async def _holding(self) -> AsyncIterator[None]:
        """The lock, let go only once the database thread is idle. A holder that leaves by
        an exception (a cancellation above all) may have left a statement running on that
        thread; ``run_here`` uses the connection from another thread, so it must not take
        the lock before that statement has finished."""
        async with self._lock:
            try:
                yield
            except BaseException:
                await self._to_the_end(_nothing)
                raise

    async def _catch_up(self) -> None:
        """Before a write transaction, on the database thread: see ``before_write``."""
        if self.checkpointer is not None and self.checkpointer.help_wanted:
            await run_sync(self.connection, self.checkpointer.before_write)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with self._holding():
            await self._catch_up()
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                await self._to_the_end(_rollback)
                raise
            await self.connection.execute("COMMIT")

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """Reads that must not see another coroutine's uncommitted writes."""
        async with self._holding():
            yield self.connection

    @contextlib.asynccontextmanager
    async def sql_transaction(self) -> AsyncIterator[Sql]:
        """``transaction``, through the ``Sql`` adapter that serves both backends."""
        async with self.transaction() as connection:
            yield AsyncSqlite(connection)

    @contextlib.asynccontextmanager
    async def sql_reading(self) -> AsyncIterator[Sql]:
        """``reading``, through the ``Sql`` adapter that serves both backends."""
        async with self.reading() as connection:
            yield AsyncSqlite(connection)

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``run_sync`` under this database's lock (for reads and whole transactions)."""
        async with self._holding():
            return await run_sync(self.connection, fn, *args, **kwargs)

    async def run_here(self, fn: Callable[..., T], *args: Any) -> T:
        """As ``run_sync``, on the event loop's own thread (opened with ``loop_writes``).

        For the profile writer in the single-process mode, where every service shares one
        interpreter lock: on the database thread each statement hands that lock between two
        threads, which there costs more than the statement, and each batch costs two thread
        hops. The loop waits meanwhile, so ``fn`` must be short and touch nothing but
        SQLite; a checkpoint the writer is asked to catch up on (which can take long) still
        runs on the database thread first."""
        async with self._holding():
            await self._catch_up()
            return call_here(self.connection, fn, *args)

    async def _to_the_end(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Runs ``fn`` on the database thread after what is queued there, and waits for it
        however often the caller is cancelled meanwhile (``_holding``)."""
        queued = asyncio.ensure_future(run_sync(self.connection, fn))
        while not queued.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(queued)
        return queued.result()

    async def close(self) -> None:
        """Closes the store; with a checkpointer, the WAL is first copied and emptied."""
        checkpointer, self.checkpointer = self.checkpointer, None
        if checkpointer is not None:
            await asyncio.to_thread(checkpointer.stop)
            await self._final_checkpoint()
        await self.connection.close()

    async def _final_checkpoint(self) -> None:
        # Closing must not fail for it: what is committed is in the WAL, which the next open
        # reads. SQLite refuses it (SQLITE_LOCKED, "database table is locked") while a read
        # on this connection is unfinished, as a request cancelled mid-read by the shutdown
        # leaves one.
        async with self._holding():
            try:
                done = await run_sync(self.connection, checkpoint, "TRUNCATE")
            except sqlite3.OperationalError as exc:
                log.warning("the final checkpoint could not run (%s); the WAL is left", exc)
                return
        if done.busy:
            log.warning("the final checkpoint was busy; the WAL is left for the next open")


def _nothing(_conn: sqlite3.Connection) -> None:
    """Queued on the database thread to learn when what came before it has run."""


def _rollback(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK")
