"""Track throughput through the profile store, per backend and per PostgreSQL write mode.

    python -m bench.pg_writes [--seconds 5] [--clients 32] [--visitors 10000]
                              [--modes sqlite,per-event,group] [--replicas 1]

Each mode gets a fresh store (SQLite: a temporary directory; PostgreSQL: a fresh schema in
a database of its own, created on the server of ``P13N_TEST_POSTGRES_URL`` or
127.0.0.1:5432 and dropped at the end). ``--clients`` tasks in this one process send Track
units through ``SqlProfileStore`` (no gRPC) for random visitors, each answer waited for
(so each is durable), for ``--seconds``. ``--replicas 2`` opens two stores on the same
schema (two pools, two writers: what two processes would do) and spreads the clients over
them; ``--visitors`` small makes them collide (merges and conflicts). Prints JSON: events/s,
p50/p95 per Track, and for group commit the batches and retries.

Modes: ``sqlite`` (the group-commit writer over one file), ``per-event`` (the service's: one
READ COMMITTED transaction per Track on the pool, ``postgres_profile``), ``serializable``
(one SERIALIZABLE transaction per Track), ``group`` (PostgreSQL group commit: one transaction per
batch of waiting Tracks, ``PostgresGroupCommit`` below, not used by the service).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic

import asyncpg
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common import events, postgres
from services.common.errors import Unavailable
from services.common.sql import Postgres
from services.profile import backends, postgres_profile
from services.profile.config_store import ATTRIBUTES, EVENTS, STITCHING_KEYS, ConfigStore
from services.profile.postgres_profile import PostgresTransactions
from services.profile.realtime import ConfigCache
from services.profile.sql_config import PostgresConfigStore
from services.profile.sql_profile import SqlProfileStore, T, Transactions, Work
from services.profile.store import open_pool

ADMIN_URL = os.environ.get(
    "P13N_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ACCOUNT = "bench"


# -- the alternative measured: group commit on PostgreSQL ----------------------------------
#
# One writer task per process takes every write waiting and runs them one after another in
# a single READ COMMITTED transaction (the same row locks as the per-write transactions),
# each in a savepoint (a unit that raises fails alone), commits once and then answers. A
# conflict (unique violation, deadlock, serialization failure) runs the whole batch again.
# Measured against one transaction per write (docs/decisions.md): faster with one replica
# and visitors that never collide; with two replicas on overlapping visitors, batches hold
# their locks for the whole batch and deadlock with each other, each deadlock costing
# PostgreSQL's deadlock_timeout (1 s), so the product does not use it.

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


class SerializableTransactions(PostgresTransactions):
    """The other alternative measured: each write one SERIALIZABLE transaction, retried on
    40001/40P01 (``postgres.serializable``), the same statements and locks inside."""

    async def write(self, work: Work[T], remaining: float | None = None) -> T:  # noqa: ARG002
        return await postgres.serializable(self._pool, work)


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

    async def write_unlocked(self, work: Work[T | None]) -> None:  # noqa: ARG002
        # The design measured here batches every write: each goes through ``write``.
        return None

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


async def _configure(configs: ConfigStore) -> str:
    async with configs.writing() as writer:
        ps = await writer.create_parent_segment(ACCOUNT, "Shoppers", "", "td_client_id", 1.0)
        segment = int(ps.id)
        await writer.insert(STITCHING_KEYS, segment, pb.StitchingKey(name="user_id"))
        await writer.insert(
            EVENTS, segment, pb.EventDefinition(name="view", database="shop", table="views")
        )
        views = pb.Attribute(name="views", type=pb.COUNTER, event="view")
        views.counter.window = "total"
        await writer.insert(ATTRIBUTES, segment, views)
    return ps.id


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    name = f"p13n_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def _stores(mode: str, replicas: int, url: str | None) -> AsyncIterator[list[Any]]:
    """``replicas`` (store, transactions, config store) on one fresh schema or file."""
    async with contextlib.AsyncExitStack() as stack:
        if mode == "sqlite":
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            storage = await stack.enter_async_context(backends.opened(Path(directory)))
            yield [(SqlProfileStore(storage.transactions, ConfigCache()), storage.configs, None)]
            return
        assert url is not None
        schema = f"bench_{secrets.token_hex(4)}"
        opened = []
        for _ in range(replicas):
            pool = await open_pool(url, schema)
            stack.push_async_callback(pool.close)
            transactions: Transactions
            if mode == "group":
                group = PostgresGroupCommit(pool)
                group.start()
                stack.push_async_callback(group.close)
                transactions = group
            elif mode == "serializable":
                transactions = SerializableTransactions(pool)
            else:
                transactions = PostgresTransactions(pool)
            opened.append(
                (
                    SqlProfileStore(transactions, ConfigCache()),
                    PostgresConfigStore(pool),
                    transactions,
                )
            )
        yield opened


async def _measure(mode: str, args: argparse.Namespace, url: str | None) -> dict[str, Any]:
    async with _stores(mode, args.replicas, url) as stores:
        ps = await _configure(stores[0][1])
        times: list[float] = []
        failures = 0
        kinds: dict[str, int] = {}
        stop = time.monotonic() + args.seconds

        async def client(number: int) -> None:
            nonlocal failures
            store = stores[number % len(stores)][0]
            rng = random.Random(number)
            while time.monotonic() < stop:
                visitor = rng.randrange(args.visitors)
                event: events.Event = {"td_client_id": f"c{visitor}"}
                if rng.random() < 0.3:  # a sign-in: links the browser to a user (merges)
                    event["user_id"] = f"u{visitor // 2}"
                started = time.perf_counter()
                try:
                    await store.track(
                        ACCOUNT,
                        ps,
                        "shop",
                        "views",
                        (event, events.encode(event)),
                        time.time(),
                        None,
                    )
                except Exception as exc:  # counted by kind and reported; the run goes on
                    failures += 1
                    kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                    continue
                times.append(time.perf_counter() - started)

        began = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(args.clients)))
        elapsed = time.monotonic() - began
        result: dict[str, Any] = {
            "mode": mode,
            "replicas": args.replicas if mode != "sqlite" else 1,
            "events_per_second": round(len(times) / elapsed),
            "p50_ms": round(statistics.median(times) * 1000, 2),
            "p95_ms": round(statistics.quantiles(times, n=20)[18] * 1000, 2),
            "failures": failures,
            "failure_kinds": kinds,
        }
        groups = [t for _, _, t in stores if isinstance(t, PostgresGroupCommit)]
        if groups:
            result["batches"] = sum(g.batches for g in groups)
            result["batch_retries"] = sum(g.retries for g in groups)
        return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--modes", default="sqlite,per-event,group")
    args = parser.parse_args()
    modes = args.modes.split(",")
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if any(mode != "sqlite" for mode in modes):
            url = await stack.enter_async_context(scratch_database())
        for mode in modes:
            print(json.dumps(await _measure(mode, args, url)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
