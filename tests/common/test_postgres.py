"""The PostgreSQL backend's plumbing against a real server."""

from __future__ import annotations

import asyncio
import socket
import time

import asyncpg
import pytest
from support.frozen_proxy import frozen_proxy
from support.postgres import schema_prefix

from services.common import postgres
from services.common.config import ConfigError, Settings
from services.common.sql import Postgres

MIGRATIONS = [
    "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
    " INSERT INTO counters VALUES (1, 0)",
    "ALTER TABLE counters ADD COLUMN note TEXT",
]


async def test_replicas_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    schema = schema_prefix() + "migrations"
    pools = await asyncio.gather(
        *(postgres.open_pool(postgres_url, schema, MIGRATIONS) for _ in range(4))
    )
    try:
        async with pools[0].acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM counters") == 1
            versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
            assert [row[0] for row in versions] == [1, 2]
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))


async def test_a_schema_newer_than_the_code_is_refused(postgres_url: str) -> None:
    schema = schema_prefix() + "newer"
    pool = await postgres.open_pool(postgres_url, schema, MIGRATIONS)
    await pool.close()
    with pytest.raises(RuntimeError, match="newer than this code knows"):
        await postgres.open_pool(postgres_url, schema, MIGRATIONS[:1])


async def test_serializable_work_is_retried_until_every_increment_counts(postgres_url: str) -> None:
    # Read-modify-write from 20 tasks at once: without retries most would fail with 40001.
    pool = await postgres.open_pool(
        postgres_url, schema_prefix() + "serial", MIGRATIONS, max_size=8
    )

    async def increment(sql: Postgres) -> None:
        n = await sql.fetchval("SELECT n FROM counters WHERE id = 1")
        await asyncio.sleep(0.005)  # widen the window in which the others read the same n
        await sql.execute("UPDATE counters SET n = ? WHERE id = 1", n + 1)

    try:
        await asyncio.gather(
            *(postgres.serializable(pool, increment, attempts=50) for _ in range(20))
        )
        assert await pool.fetchval("SELECT n FROM counters WHERE id = 1") == 20
    finally:
        await pool.close()


async def test_the_listener_hears_commits_and_reports_a_reconnect(postgres_url: str) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = postgres.Listener(postgres_url, "p13n_test_channel", heard.put_nowait)
    listener.RECONNECT_DELAY = 0.05
    await listener.start()
    conn = await asyncpg.connect(postgres_url)
    try:
        async with conn.transaction():
            await postgres.notify(Postgres(conn), "p13n_test_channel", "hello")
        assert await asyncio.wait_for(heard.get(), 5) == "hello"
        # The listening connection is killed: the listener reconnects and says "changed",
        # since whatever was notified meanwhile is lost.
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN %p13n_test_channel%'"
        )
        assert await asyncio.wait_for(heard.get(), 5) == ""
        await postgres.notify(Postgres(conn), "p13n_test_channel", "again")
        assert await asyncio.wait_for(heard.get(), 5) == "again"
    finally:
        await conn.close()
        await listener.close()


def test_urls_in_logs_carry_no_password() -> None:
    assert postgres.redacted("postgresql://u:s3cret@db:5432/p") == "postgresql://u:***@db:5432/p"
    assert postgres.redacted("postgresql://u@db/p") == "postgresql://u@db/p"
    assert postgres.redacted("postgresql://u@db/p?password=s3cret") == "postgresql://u@db/p"
    assert (
        postgres.redacted("postgresql://u:s3cret@h1:1,h2:2/p") == "postgresql://u:***@h1:1,h2:2/p"
    )


def test_the_database_setting_is_checked_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"P13N_DATABASE_URL": "mysql://u:s3cret@db/p"})
    assert "s3cret" not in str(raised.value)
    settings = Settings.from_env({"P13N_DATABASE_URL": "postgresql://u@db/p"})
    assert settings.database_schema("auth") == "p13n_auth"
    assert "postgresql" not in repr(settings)


async def _next_payload(heard: asyncio.Queue[str]) -> str:
    """The next notification's payload, past any reconnect reports ("")."""
    while (payload := await heard.get()) == "":
        pass
    return payload


@pytest.fixture
def quick_dead_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds, not the production bounds, before a silent connection counts as dead."""
    monkeypatch.setattr(postgres, "COMMAND_TIMEOUT", 1.0)
    monkeypatch.setattr(postgres, "PING_INTERVAL", 0.3)
    monkeypatch.setattr(postgres, "PING_TIMEOUT", 0.5)


@pytest.mark.usefixtures("quick_dead_connections")
async def test_the_listener_replaces_a_connection_that_stopped_answering(
    postgres_url: str,
) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    async with frozen_proxy(postgres_url) as (proxy, proxied):
        listener = postgres.Listener(proxied, "p13n_frozen_channel", heard.put_nowait)
        listener.RECONNECT_DELAY = 0.05
        await listener.start()
        conn = await asyncpg.connect(postgres_url)
        try:
            assert proxy.freeze() == 1
            # No reset, no error: only the ping can tell. Then it reports a change and
            # hears what is notified on its new connection.
            assert await asyncio.wait_for(heard.get(), 5) == ""
            await postgres.notify(Postgres(conn), "p13n_frozen_channel", "after")
            # A ping that was merely slow before the freeze may have queued one more "".
            assert await asyncio.wait_for(_next_payload(heard), 5) == "after"
        finally:
            await conn.close()
            await listener.close()


@pytest.mark.usefixtures("quick_dead_connections")
async def test_a_pool_gives_up_a_connection_that_stopped_answering(postgres_url: str) -> None:
    async with frozen_proxy(postgres_url) as (proxy, proxied):
        pool = await postgres.open_pool(proxied, schema_prefix() + "frozen", MIGRATIONS, max_size=1)
        try:
            assert await pool.fetchval("SELECT n FROM counters") == 0
            proxy.freeze()
            started = time.monotonic()
            # Abandoned by the caller (as the offers check does): the dead connection is
            # dropped once its cancellation times out, not waited on for good, so the only
            # connection of the pool is a live one again within the timeouts.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await pool.fetchval("SELECT n FROM counters")
            assert await asyncio.wait_for(pool.fetchval("SELECT n FROM counters"), 5) == 0
            assert time.monotonic() - started < 5
            # A statement nobody abandons times out by itself.
            proxy.freeze()
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.fetchval("SELECT n FROM counters"), 5)
            assert time.monotonic() - started < 5  # 2 s nominal, room for a loaded machine
            assert await asyncio.wait_for(pool.fetchval("SELECT n FROM counters"), 5) == 0
        finally:
            pool.terminate()


async def test_every_connection_has_keepalives_and_a_user_timeout(postgres_url: str) -> None:
    pool = await postgres.open_pool(postgres_url, schema_prefix() + "keepalive", MIGRATIONS)
    single = await postgres.connect(postgres_url)  # what listeners and migrations use
    try:
        async with pool.acquire() as pooled:
            for conn in (pooled, single):
                sock = conn._transport.get_extra_info("socket")  # noqa: SLF001
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == (
                    postgres.KEEPALIVE_IDLE
                )
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == (
                    postgres.DEAD_AFTER * 1000
                )
    finally:
        await single.close()
        await pool.close()


async def test_the_listener_outlives_any_failure_to_start_listening(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only a refused connection: a connection that breaks while it starts to listen
    (InterfaceError) leaves the listener retrying, never its owner's task group failed."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    connect = postgres.connect
    failures = [asyncpg.InterfaceError("connection closed (by the test)")] * 2

    async def broken_twice(url: str, command_timeout: float = 1.0) -> asyncpg.Connection:
        if failures:
            raise failures.pop()
        return await connect(url, command_timeout)

    monkeypatch.setattr(postgres, "connect", broken_twice)
    listener = postgres.Listener(postgres_url, "p13n_broken_channel", heard.put_nowait)
    listener.RECONNECT_DELAY = 0.05
    await listener.start()  # the first failure: keeps trying in the background
    try:
        assert await asyncio.wait_for(heard.get(), 5) == ""  # listening at last
        assert not failures
        conn = await asyncpg.connect(postgres_url)
        try:
            await postgres.notify(Postgres(conn), "p13n_broken_channel", "heard")
        finally:
            await conn.close()
        assert await asyncio.wait_for(heard.get(), 5) == "heard"
    finally:
        await listener.close()
