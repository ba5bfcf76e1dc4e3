"""Group commit on PostgreSQL: the writes waiting in one process share a transaction.

The alternative to ``postgres_profile.PostgresTransactions`` (a SERIALIZABLE transaction
per write, run side by side on the pool). Here one writer task takes every write waiting,
runs them one after another in a single SERIALIZABLE transaction, each inside a savepoint
(a unit that raises is rolled back alone and fails alone), commits once and only then
answers: as on SQLite, a caller is answered only once its writes are durable, and the
writes of one process never conflict with each other (a hot visitor's events are applied
one after another instead of aborting each other).

Conflicts with other replicas remain: when the server reports one (SQLSTATE 40001, 40P01,
at any statement or at COMMIT) the whole batch is rolled back and run again from the start,
with jittered back-off, up to ``postgres.MAX_ATTEMPTS`` times; then every unit of it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Any, Generic

import asyncpg

from services.common import postgres
from services.common.errors import Unavailable
from services.common.sql import Postgres
from services.profile import postgres_profile
from services.profile.sql_profile import T, Transactions, Work

log = logging.getLogger(__name__)

# Bounds what one conflict with another replica costs (the whole batch runs again).
MAX_BATCH = 64


@dataclass
class _Unit(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]
    deadline: float | None


class _Retry(Exception):
    """A unit hit a conflict: the batch must run again."""


class PostgresGroupCommit(Transactions):
    """One writer task per process over an asyncpg pool; ``start`` before use."""

    def __init__(self, pool: asyncpg.Pool, max_batch: int = MAX_BATCH) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Unit[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # committed transactions
        self.retries = 0  # batches run again after a conflict

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="pg-group-commit")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            unit = self._queue.get_nowait()
            if not unit.future.done():
                unit.future.set_exception(Unavailable("The profile service is shutting down"))

    async def write(self, work: Work[T], remaining: float | None = None) -> T:
        if self._task is None or self._task.done():
            raise Unavailable("The profile store is not accepting writes; retry shortly")
        loop = asyncio.get_running_loop()
        deadline = None if remaining is None else loop.time() + remaining
        unit: _Unit[T] = _Unit(work, loop.create_future(), deadline)
        self._queue.put_nowait(unit)
        return await unit.future

    async def read(self, work: Work[T]) -> T:
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await work(Postgres(conn))

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            except asyncio.CancelledError:
                for unit in batch:
                    if not unit.future.done():
                        unit.future.set_exception(
                            Unavailable("The profile service is shutting down")
                        )
                raise
            except Exception as exc:  # the writer must outlive any one batch
                log.exception("group commit of %s units failed", len(batch))
                for unit in batch:
                    if not unit.future.done():
                        unit.future.set_exception(exc)

    async def _commit(self, batch: list[_Unit[Any]]) -> None:
        for attempt in range(1, postgres.MAX_ATTEMPTS + 1):
            live = _live(batch, asyncio.get_running_loop().time())
            if not live:
                return
            try:
                outcomes = await self._run(live)
            except (*postgres.RETRYABLE, _Retry) as exc:
                if attempt == postgres.MAX_ATTEMPTS:
                    raise
                self.retries += 1
                log.debug("running a batch again (attempt %s): %s", attempt, exc)
                backoff = min(postgres.MAX_BACKOFF, postgres.FIRST_BACKOFF * 2**attempt)
                await asyncio.sleep(random.uniform(0, backoff))
                continue
            self.batches += 1
            _answer(live, outcomes)
            return

    async def _run(self, live: list[_Unit[Any]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        async with self._pool.acquire() as conn, conn.transaction():
            sql = Postgres(conn)
            for unit in live:
                try:
                    async with conn.transaction():  # a savepoint
                        outcomes.append((True, await unit.work(sql)))
                except postgres_profile.RETRYABLE as exc:
                    raise _Retry(str(exc)) from exc
                except Exception as exc:
                    outcomes.append((False, exc))
        return outcomes


def _live(batch: list[_Unit[Any]], now: float) -> list[_Unit[Any]]:
    """The units still wanted: a unit past its deadline is cancelled, not run."""
    live = []
    for unit in batch:
        if unit.deadline is not None and now > unit.deadline:
            unit.future.cancel()
        if not unit.future.done():
            live.append(unit)
    return live


def _answer(live: list[_Unit[Any]], outcomes: list[tuple[bool, Any]]) -> None:
    for unit, (ok, value) in zip(live, outcomes, strict=True):
        if unit.future.done():  # its caller went away meanwhile
            continue
        if ok:
            unit.future.set_result(value)
        else:
            unit.future.set_exception(value)
