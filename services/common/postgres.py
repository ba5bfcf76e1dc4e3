"""PostgreSQL, the scale-out backend: a pool per process, a schema per service.

``P13N_DATABASE_URL`` names one database; each service keeps its tables in a schema of its
own (``<prefix>auth``, ``<prefix>profile``, ``<prefix>offers``), so the three can share a
server or be pointed at different ones, and a test run can give every suite its own prefix.

Replicas may start together: migrations run under an advisory lock, each once, each in its
own transaction, recorded in ``schema_migrations``. Every connection commits with
``synchronous_commit = on``: a transaction is acknowledged only once it is on disk (on the
primary), as on SQLite with ``synchronous = FULL``.

Work that must be serializable across processes goes through ``serializable``: it runs in a
SERIALIZABLE transaction and is retried, with jittered back-off, when the server reports a
serialization failure or a deadlock (SQLSTATE 40001, 40P01), which is how CockroachDB and
YugabyteDB ask for retries too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from services.common.sql import Postgres

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 12
FIRST_BACKOFF = 0.002  # seconds; doubles per attempt, capped, with full jitter
MAX_BACKOFF = 0.2
RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def redacted(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def check_schema(schema: str) -> str:
    if not _SCHEMA.fullmatch(schema):
        raise ValueError(f"schema {schema!r}: use lowercase letters, digits and _ (at most 63)")
    return schema


async def open_pool(
    url: str,
    schema: str,
    migrations: Sequence[str],
    *,
    max_size: int = 10,
    application: str = "p13n",
) -> asyncpg.Pool:
    """A pool whose connections see ``schema`` first, after applying pending migrations."""
    check_schema(schema)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, schema, migrations)
    finally:
        await conn.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=max_size,
        server_settings={
            "search_path": schema,
            "synchronous_commit": "on",
            "application_name": application,
        },
    )
    return pool


async def migrate(conn: asyncpg.Connection, schema: str, migrations: Sequence[str]) -> None:
    """Applies the migrations ``schema`` lacks, once, even when replicas start together."""
    lock = f"p13n.migrate.{schema}"
    # A session-level lock, so that CREATE SCHEMA is under it too; released in finally.
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", lock)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " version INTEGER PRIMARY KEY, applied_time DOUBLE PRECISION NOT NULL)"
        )
        done = await conn.fetchval(
            f'SELECT COALESCE(MAX(version), 0) FROM "{schema}".schema_migrations'
        )
        if done > len(migrations):
            raise RuntimeError(
                f"schema {schema} is at version {done}, newer than this code knows "
                f"({len(migrations)}): run a newer p13n"
            )
        for number, script in enumerate(migrations[done:], start=done + 1):
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.execute(script)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_time) VALUES ($1, $2)",
                    number,
                    time.time(),
                )
            log.info("applied migration %s to schema %s", number, schema)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock)


async def serializable(
    pool: asyncpg.Pool, work: Callable[[Postgres], Awaitable[T]], attempts: int = MAX_ATTEMPTS
) -> T:
    """Runs ``work`` in a SERIALIZABLE transaction, retried on serialization failures.

    ``work`` may run more than once, so it must do nothing outside the transaction that a
    retry would repeat (no notifications to clients, no counters in memory).
    """
    for attempt in range(1, attempts + 1):
        try:
            async with pool.acquire() as conn, conn.transaction(isolation="serializable"):
                return await work(Postgres(conn))
        except RETRYABLE as exc:
            if attempt == attempts:
                raise
            log.debug("retrying a serializable transaction (attempt %s): %s", attempt, exc)
            await asyncio.sleep(random.uniform(0, min(MAX_BACKOFF, FIRST_BACKOFF * 2**attempt)))
    raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[Postgres]:
    """A READ COMMITTED transaction for writes that need no serializability."""
    async with pool.acquire() as conn, conn.transaction():
        yield Postgres(conn)


async def notify(sql: Postgres, channel: str, payload: str = "") -> None:
    """Queues a notification, delivered to every listener when the transaction commits."""
    await sql.execute("SELECT pg_notify(?, ?)", channel, payload)


class Listener:
    """Calls ``on_change`` on each notification on ``channel``, and after every reconnect.

    A notification sent while the listening connection was down is lost, so a reconnect is
    reported as a change too; owners also compare a version now and then (the fallback the
    issue asks for), which covers a connection that silently stopped delivering.
    """

    RECONNECT_DELAY = 0.5

    def __init__(self, url: str, channel: str, on_change: Callable[[str], None]) -> None:
        self._url = url
        self._channel = channel
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    async def start(self) -> None:
        """Returns once listening (a change made after ``start`` is never missed), or,
        when it cannot listen yet, keeps trying in the background and reports a change
        once it does. The owner's periodic check serves meanwhile, and for good on an
        engine that has no LISTEN (CockroachDB): a service never fails to start for it."""
        name = f"listen {self._channel}"
        try:
            conn = await self._connect()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning(
                "cannot listen on %s yet (the periodic check serves): %s", self._channel, exc
            )
            self._task = asyncio.create_task(self._listen_later(), name=name)
            return
        self._task = asyncio.create_task(self._keep_listening(conn), name=name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _connect(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(self._url)
        try:
            self._lost.clear()
            conn.add_termination_listener(lambda _conn: self._lost.set())
            await conn.add_listener(self._channel, self._deliver)
        except BaseException:
            # Also when closed mid-reconnect (cancelled): the new session is not leaked.
            conn.terminate()
            raise
        return conn

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_change(payload)

    async def _listen_later(self) -> None:
        conn = await self._reconnect()
        self._on_change("")
        await self._keep_listening(conn)

    async def _keep_listening(self, conn: asyncpg.Connection) -> None:
        try:
            while True:
                await self._lost.wait()
                log.warning("lost the %s notification connection; reconnecting", self._channel)
                conn.terminate()
                conn = await self._reconnect()
                self._on_change("")
        finally:
            conn.terminate()

    async def _reconnect(self) -> asyncpg.Connection:
        while True:
            try:
                return await self._connect()
            except (OSError, asyncpg.PostgresError) as exc:
                log.debug("cannot listen on %s yet: %s", self._channel, exc)
                await asyncio.sleep(self.RECONNECT_DELAY)
