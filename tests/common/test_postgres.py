"""The PostgreSQL backend's plumbing against a real server."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
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


def test_the_database_setting_is_checked_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"P13N_DATABASE_URL": "mysql://u:s3cret@db/p"})
    assert "s3cret" not in str(raised.value)
    settings = Settings.from_env({"P13N_DATABASE_URL": "postgresql://u@db/p"})
    assert settings.database_schema("auth") == "p13n_auth"
    assert "postgresql" not in repr(settings)
