"""PostgreSQL, the scale-out backend: a pool per process, a schema per service.

``P13N_DATABASE_URL`` names one database; each service keeps its tables in a schema of its
own (``<prefix>auth``, ``<prefix>profile``, ``<prefix>offers``), so the three can share a
server or be pointed at different ones, and a test run can give every suite its own prefix.

Replicas may start together: migrations run under an advisory lock, each once, each in its
own transaction, recorded in ``schema_migrations``. Every connection commits with
``synchronous_commit = on``: a transaction is acknowledged only once it is on disk (on the
primary), as on SQLite with ``synchronous = FULL``.

Writes that must not interleave across processes take row locks in a fixed order inside
READ COMMITTED transactions (each store says which; the profile's are in
``services.profile.postgres_profile``). ``serializable`` is the alternative the bench
measures (``bench/pg_writes.py``): work in a SERIALIZABLE transaction, retried with
jittered back-off on a serialization failure or a deadlock (SQLSTATE 40001, 40P01), which
is how CockroachDB and YugabyteDB ask for retries too.

A connection can die silently: after a failover, or when a firewall or NAT forgets it, no
reset ever arrives and a query waits on it for good (every cache follower stalled with it).
So every connection (pools, listeners, migrations) has TCP keepalives and
``TCP_USER_TIMEOUT`` (the kernel gives up on it in about ``DEAD_AFTER`` seconds), every
statement has a ``COMMAND_TIMEOUT`` (which also bounds asyncpg's wait for the cancellation
of a timed-out or cancelled statement: it then terminates the connection instead of
waiting on it), and a ``Listener`` pings its connection every ``PING_INTERVAL``. Keepalives
cannot tell a live peer that stopped answering (a frozen proxy still acknowledges), so the
timeouts are what bound every wait; keepalives bound it sooner for idle connections and
tell the server's side too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from services.common.sql import Postgres

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 12
FIRST_BACKOFF = 0.002  # seconds; doubles per attempt, capped, with full jitter
MAX_BACKOFF = 0.2
RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)

# Dead-connection detection (see the module's docstring). Module attributes so that a test
# can shorten them before it opens a pool.
KEEPALIVE_IDLE = 10  # seconds idle before the first probe
KEEPALIVE_INTERVAL = 5  # seconds between probes
KEEPALIVE_COUNT = 3  # unanswered probes before the kernel drops the connection
DEAD_AFTER = KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT  # TCP_USER_TIMEOUT too
# The longest any one statement may run, and so also how long a statement abandoned by
# its caller (a timeout, a client gone) may hold its connection before asyncpg gives up
# the cancellation and drops the connection. The slowest statements here (an import's
# batch, an audit page) take well under a second; a lock wait this long is an outage.
COMMAND_TIMEOUT = 10.0
MIGRATION_TIMEOUT = 600.0
CONNECT_TIMEOUT = 10.0  # seconds to open a connection (asyncpg's default is 60)
# A pool's maximum unless its service sets its own (services/connection_budget.py adds
# them up for the server's max_connections).
DEFAULT_POOL_SIZE = 10
PING_INTERVAL = 5.0  # seconds between a Listener's liveness checks
PING_TIMEOUT = 2.0

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def redacted(url: str) -> str:
    """The URL without its password (written as ``user:pw@`` or as ``?password=``) and
    without its query, for logs and error messages; never raises."""
    try:
        parts = urlsplit(url)
        credentials, _, hosts = parts.netloc.rpartition("@")
        user, has_password, _ = credentials.partition(":")
        login = f"{user}:***@" if has_password else (f"{user}@" if user else "")
        return f"{parts.scheme}://{login}{hosts}{parts.path}"
    except ValueError:
        return "postgresql://<redacted>"


def guard_socket(conn: asyncpg.Connection) -> None:
    """Keepalives and ``TCP_USER_TIMEOUT`` on ``conn``'s socket: a peer that vanished
    without a reset is noticed in about ``DEAD_AFTER`` seconds, not hours."""
    # asyncpg has no option for these (libpq's keepalives_* are not read); its transport
    # is the only way to the socket. A Unix socket has no TCP options to set.
    sock = conn._transport.get_extra_info("socket")  # noqa: SLF001
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
        ("TCP_USER_TIMEOUT", DEAD_AFTER * 1000),  # milliseconds
    ):
        if hasattr(socket, option):  # Linux has them all; other systems some
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


async def connect(url: str, command_timeout: float = COMMAND_TIMEOUT) -> asyncpg.Connection:
    """One guarded connection (for a migration or a listener; pools guard their own)."""
    conn: asyncpg.Connection = await asyncpg.connect(
        url, timeout=CONNECT_TIMEOUT, command_timeout=command_timeout
    )
    try:
        guard_socket(conn)
    except BaseException:
        conn.terminate()
        raise
    return conn


async def _guard_pooled(conn: asyncpg.Connection) -> None:
    guard_socket(conn)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to its pool.

    asyncpg's default reset sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release: a round trip per transaction for session state no pooled
    connection here ever changes (no session ``SET``, ``LISTEN``, cursor or advisory lock:
    listeners and migrations have connections of their own). A transaction still open is
    rolled back by asyncpg before this is called.
    """


def check_schema(schema: str) -> str:
    if not _SCHEMA.fullmatch(schema):
        raise ValueError(f"schema {schema!r}: use lowercase letters, digits and _ (at most 63)")
    return schema


async def open_pool(
    url: str,
    schema: str,
    migrations: Sequence[str],
    *,
    max_size: int = DEFAULT_POOL_SIZE,
    application: str = "p13n",
) -> asyncpg.Pool:
    """A pool whose connections see ``schema`` first, after applying pending migrations."""
    check_schema(schema)
    # A migration may rewrite a large table, or wait for another replica's migrations.
    conn = await connect(url, command_timeout=MIGRATION_TIMEOUT)
    try:
        await migrate(conn, schema, migrations)
    finally:
        await conn.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=CONNECT_TIMEOUT,
        command_timeout=COMMAND_TIMEOUT,
        init=_guard_pooled,
        reset=_keep_session,
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


async def applied_version(url: str, schema: str) -> int | None:
    """How many migrations ``migrate`` has applied to ``schema``; None if it never ran
    there. Reads only: for a command that must find the schema its service made."""
    check_schema(schema)  # it is quoted into the queries below
    conn = await connect(url)
    try:
        if not await conn.fetchval("SELECT to_regclass($1)", f'"{schema}".schema_migrations'):
            return None
        version: int = await conn.fetchval(
            f'SELECT COALESCE(MAX(version), 0) FROM "{schema}".schema_migrations'
        )
        return version
    finally:
        await conn.close()


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


@contextlib.asynccontextmanager
async def snapshot(pool: asyncpg.Pool) -> AsyncIterator[Postgres]:
    """A read-only REPEATABLE READ transaction: every statement sees the same commits (a
    version and the rows of that version read together)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        yield Postgres(conn)


async def notify(sql: Postgres, channel: str, payload: str = "") -> None:
    """Queues a notification, delivered to every listener when the transaction commits."""
    await sql.execute("SELECT pg_notify(?, ?)", channel, payload)


class Listener:
    """Calls ``on_change`` on each notification on ``channel``, and after every reconnect.

    A notification sent while the listening connection was down is lost, so a reconnect is
    reported as a change too; owners also compare a version now and then (the fallback the
    issue asks for). A connection that silently stopped delivering is found by a ping
    every ``PING_INTERVAL`` that must be answered within ``PING_TIMEOUT``, then dropped and
    replaced. The ping is the ``LISTEN`` again: a no-op for the server that still needs a
    round trip, and the session's last statement stays the ``LISTEN`` that names it.
    """

    RECONNECT_DELAY = 0.5

    def __init__(self, url: str, channel: str, on_change: Callable[[str], None]) -> None:
        self._url = url
        self._channel = channel
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        # As asyncpg's add_listener words it (quoted identifier).
        self._listen_statement = 'LISTEN "{}"'.format(channel.replace('"', '""'))

    async def start(self) -> None:
        """Returns once listening (a change made after ``start`` is never missed), or,
        when it cannot listen yet, keeps trying in the background and reports a change
        once it does. The owner's periodic check serves meanwhile, and for good on an
        engine that has no LISTEN (CockroachDB): a service never fails to start for it."""
        name = f"listen {self._channel}"
        try:
            conn = await self._connect()
        except Exception as exc:  # refused, unreachable, or broken mid-setup (InterfaceError)
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
        conn = await connect(self._url)
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
                await self._until_lost(conn)
                log.warning("lost the %s notification connection; reconnecting", self._channel)
                conn.terminate()
                conn = await self._reconnect()
                self._on_change("")
        finally:
            conn.terminate()

    async def _until_lost(self, conn: asyncpg.Connection) -> None:
        """Returns when the connection closed, or stopped answering a ping in time."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_INTERVAL):
                    await self._lost.wait()
                return
            try:
                await conn.execute(self._listen_statement, timeout=PING_TIMEOUT)
            except Exception as exc:  # timed out, or the connection broke meanwhile
                log.warning("the %s notification connection did not answer: %r", self._channel, exc)
                return

    async def _reconnect(self) -> asyncpg.Connection:
        while True:
            try:
                return await self._connect()
            except Exception as exc:  # any failure to connect or listen: try again
                log.debug("cannot listen on %s yet: %s", self._channel, exc)
                await asyncio.sleep(self.RECONNECT_DELAY)
