"""The profile store is opened for its load: on SQLite checkpoints beside the writer and a
larger cache; on PostgreSQL durable commits in the profile schema."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.common.config import Settings
from services.profile import backends, profiles
from services.profile.store import PG_MIGRATIONS, TUNING, open_store


async def test_the_profile_store_checkpoints_beside_its_writer(tmp_path: Path) -> None:
    db = await open_store(tmp_path)
    try:
        assert db.checkpointer is not None
        assert db.checkpointer.policy == TUNING.checkpoints
        async with db.reading() as conn:
            pragmas = {
                name: (await (await conn.execute(f"PRAGMA {name}")).fetchone())[0]
                for name in ("wal_autocheckpoint", "cache_size", "synchronous", "journal_mode")
            }
        assert pragmas == {
            "wal_autocheckpoint": 0,
            "cache_size": -64 * 1024,
            "synchronous": 2,
            "journal_mode": "wal",
        }
    finally:
        await db.close()


async def test_the_postgresql_store_commits_durably_in_its_own_schema(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **postgres_env})
    schema = settings.database_schema("profile")
    url = postgres_env["P13N_DATABASE_URL"]  # this run's own database
    admin = await asyncpg.connect(url)
    database = '"{}"'.format(await admin.fetchval("SELECT current_database()"))
    try:
        # Off by default in this database, so "on" below is the pool's own setting.
        await admin.execute(f"ALTER DATABASE {database} SET synchronous_commit = off")
        plain = await asyncpg.connect(url)
        try:
            default = await plain.fetchval("SELECT current_setting('synchronous_commit')")
        finally:
            await plain.close()
        async with (
            backends.opened(tmp_path, settings.database_url, schema) as storage,
            storage.reading() as sql,
        ):
            found = await sql.fetchrow(
                "SELECT current_setting('synchronous_commit'), current_schema(), "
                "(SELECT count(*) FROM schema_migrations)"
            )
    finally:
        await admin.execute(f"ALTER DATABASE {database} RESET synchronous_commit")
        await admin.close()
    assert default == "off"
    assert storage.db is None  # nothing in the data directory
    assert found is not None
    assert (found[0], found[1], found[2]) == ("on", schema, len(PG_MIGRATIONS))


async def test_the_postgresql_store_has_a_lock_row_for_every_stripe(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **postgres_env})
    async with (
        backends.opened(tmp_path, settings.database_url, settings.database_schema("p")) as storage,
        storage.reading() as sql,
    ):
        found = await sql.fetchrow("SELECT count(*), min(stripe), max(stripe) FROM identity_locks")
    assert found is not None
    assert (found[0], found[1], found[2]) == (profiles.LOCK_STRIPES, 0, profiles.LOCK_STRIPES - 1)
