"""Group commit: concurrent writers share one transaction, and so one fsync.

With ``synchronous=FULL`` every COMMIT waits for the disk. Committing each event alone would
cap throughput at the disk's fsync rate, so one writer task takes every unit of work that is
waiting, runs them one after another inside a single ``BEGIN IMMEDIATE … COMMIT`` and only
then resolves their futures: a caller is answered only once its writes are durable.

A batch forms by itself: while one batch commits, new units queue up and become the next
batch, so there is no timer and an idle service commits a lone unit at once.

Each unit runs inside its own SAVEPOINT. A unit that raises (a refused event, an unexpected
error) is rolled back to its savepoint and fails alone; the others in the batch still
commit. If COMMIT itself fails, every unit of the batch fails: nothing of it was written.

Units run one at a time, in arrival order, on the one connection; so a unit reads what the
units before it wrote, and a read-modify-write of a profile cannot interleave with another.

A unit is either async (``run``: it awaits aiosqlite, one trip to the database thread and back
per statement) or synchronous (``run_sync``: a plain function of a ``sqlite3`` connection).
A batch of synchronous units runs whole on the database thread — BEGIN, each unit in its
SAVEPOINT, COMMIT — as one call, so a Track costs one hop however many statements it makes;
or, with ``on_loop`` (the single-process mode), on the event loop's own thread, with no hop
at all (``Database.run_here`` says why). A batch that mixes the two kinds keeps the async
path, running each synchronous unit in one hop of its own; the semantics above are the same
every way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiosqlite

from services.common.errors import Unavailable
from services.common.storage import Database, run_sync

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[aiosqlite.Connection], Awaitable[T]]
SyncWork = Callable[[sqlite3.Connection], T]

# Bounds how long one transaction holds the write lock (reads wait for it).
MAX_BATCH = 256


@dataclass
class _Unit(Generic[T]):
    work: Work[T] | SyncWork[T]
    sync: bool  # work is a SyncWork, run on the database thread
    future: asyncio.Future[T]
    deadline: float | None  # loop time after which the caller no longer waits


class GroupCommit:
    """One writer task per database; ``run`` submits a unit and waits until it is durable.

    ``on_loop``: batches of synchronous units run on the event loop's thread (the database
    must be opened with ``Tuning.loop_writes``)."""

    def __init__(self, db: Database, max_batch: int = MAX_BATCH, *, on_loop: bool = False) -> None:
        self._db = db
        self._max_batch = max_batch
        self._on_loop = on_loop
        self._queue: asyncio.Queue[_Unit[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # committed transactions, for tests and logs
        self.units = 0  # units that took part in them

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="group-commit")

    async def run(self, work: Work[T], remaining: float | None = None) -> T:
        """Runs ``work`` in the next batch; returns its result once the batch is committed.

        ``remaining`` is the caller's remaining time: a unit still queued when it has passed is
        dropped, because nobody would read its answer. (A unit already running when its
        caller goes away still commits; the caller then simply was not told.)
        """
        return await self._submit(work, False, remaining)

    async def run_sync(self, work: SyncWork[T], remaining: float | None = None) -> T:
        """As ``run``, for a synchronous unit: ``work(conn)`` runs on the database thread.

        It must not block on anything but SQLite (it holds the batch's write transaction).
        """
        return await self._submit(work, True, remaining)

    async def _submit(self, work: Work[T] | SyncWork[T], sync: bool, remaining: float | None) -> T:
        if self._task is None or self._task.done():
            raise Unavailable("The profile store is not accepting writes; retry shortly")
        loop = asyncio.get_running_loop()
        deadline = None if remaining is None else loop.time() + remaining
        unit: _Unit[T] = _Unit(work, sync, loop.create_future(), deadline)
        self._queue.put_nowait(unit)
        # Cancelling the caller (client gone, deadline) cancels the future: the writer skips it.
        return await unit.future

    async def close(self) -> None:
        """Stops the writer after its current batch; units still queued fail."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        queued = []
        while not self._queue.empty():
            queued.append(self._queue.get_nowait())
        _fail(queued, Unavailable("The profile service is shutting down"))

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            except asyncio.CancelledError:
                _fail(batch, Unavailable("The profile service is shutting down"))
                raise
            except Exception as exc:  # the writer must outlive any one batch
                log.exception("group commit failed")
                _fail(batch, exc)

    async def _commit(self, batch: list[_Unit[Any]]) -> None:
        live = _live(batch, asyncio.get_running_loop().time())
        if not live:
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            if all(unit.sync for unit in live):
                works = [unit.work for unit in live]
                if self._on_loop:
                    outcomes = await self._db.run_here(run_sync_batch, works)
                else:
                    outcomes = await self._db.run_sync(run_sync_batch, works, self._db.before_write)
            else:
                async with self._db.transaction() as conn:
                    for unit in live:
                        outcomes.append(await _run_unit(conn, unit))
        except Exception as exc:  # COMMIT (or BEGIN) failed: nothing of the batch is written
            log.exception("group commit of %s units failed", len(live))
            busy = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
            _fail(live, Unavailable("The profile store is busy; retry shortly") if busy else exc)
            await self._recover()
            return
        self.batches += 1
        self.units += len(live)
        for unit, (ok, value) in zip(live, outcomes, strict=True):
            if unit.future.done():  # the caller left while the batch ran
                continue
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)

    async def _recover(self) -> None:
        # A failed COMMIT can leave the transaction open; the next BEGIN would then fail too.
        async with self._db.reading() as conn:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")


def _live(batch: list[_Unit[Any]], now: float) -> list[_Unit[Any]]:
    """The units still wanted: a unit past its deadline is cancelled, not run."""
    live = []
    for unit in batch:
        if unit.deadline is not None and now > unit.deadline:
            unit.future.cancel()
        if not unit.future.done():
            live.append(unit)
    return live


def _fail(units: list[_Unit[Any]], exc: BaseException) -> None:
    for unit in units:
        if not unit.future.done():
            unit.future.set_exception(exc)


def run_sync_batch(
    conn: sqlite3.Connection,
    works: list[SyncWork[Any]],
    before: Callable[[sqlite3.Connection], None] | None = None,
) -> list[tuple[bool, Any]]:
    """A whole batch on the database thread: what ``Database.transaction`` and ``_run_unit``
    do, statement for statement, without returning to the event loop in between.

    Public so that ``bench/bigstore.py`` times exactly what the writer runs.

    ``before`` runs first, outside the transaction (``Database.before_write``)."""
    if before is not None:
        before(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        outcomes = [_sync_unit(conn, work) for work in works]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")  # if it raises, _recover rolls back, as on the async path
    return outcomes


def _sync_unit(conn: sqlite3.Connection, work: SyncWork[Any]) -> tuple[bool, Any]:
    conn.execute("SAVEPOINT unit")
    try:
        value = work(conn)
    except Exception as exc:
        conn.execute("ROLLBACK TO unit")
        conn.execute("RELEASE unit")
        return False, exc
    conn.execute("RELEASE unit")
    return True, value


async def _run_unit(conn: aiosqlite.Connection, unit: _Unit[Any]) -> tuple[bool, Any]:
    if unit.sync:
        return await run_sync(conn, _sync_unit, unit.work)
    await conn.execute("SAVEPOINT unit")
    try:
        value = await unit.work(conn)
    except Exception as exc:
        await conn.execute("ROLLBACK TO unit")
        await conn.execute("RELEASE unit")
        return False, exc
    await conn.execute("RELEASE unit")
    return True, value
