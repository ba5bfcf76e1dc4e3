from __future__ import annotations

from pathlib import Path

import pytest

from services.common.storage import open_database

MIGRATIONS = [
    "CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "ALTER TABLE a ADD COLUMN note TEXT; CREATE INDEX a_name ON a (name)",
]


async def test_pragmas_are_durable(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "x.db", MIGRATIONS)
    try:
        assert (await (await db.execute("PRAGMA journal_mode")).fetchone())[0] == "wal"
        assert (await (await db.execute("PRAGMA synchronous")).fetchone())[0] == 2  # FULL
        assert (await (await db.execute("PRAGMA busy_timeout")).fetchone())[0] == 5000
        assert (await (await db.execute("PRAGMA foreign_keys")).fetchone())[0] == 1
    finally:
        await db.close()


async def test_migrations_run_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = await open_database(path, MIGRATIONS[:1])
    await db.execute("INSERT INTO a (name) VALUES ('kept')")
    await db.close()
    db = await open_database(path, MIGRATIONS)
    try:
        assert (await (await db.execute("PRAGMA user_version")).fetchone())[0] == 2
        rows = await (await db.execute("SELECT name, note FROM a")).fetchall()
        assert [tuple(r) for r in rows] == [("kept", None)]
    finally:
        await db.close()
    db = await open_database(path, MIGRATIONS)  # nothing left to run: no error
    await db.close()


async def test_a_failed_migration_leaves_nothing_half_done(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    broken = [MIGRATIONS[0], "CREATE TABLE b (id INTEGER); CREATE TABLE a (id INTEGER)"]
    with pytest.raises(Exception, match="already exists"):
        await open_database(path, broken)
    db = await open_database(path, MIGRATIONS[:1])
    try:
        assert (await (await db.execute("PRAGMA user_version")).fetchone())[0] == 1
        tables = await (
            await db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ).fetchall()
        assert [r[0] for r in tables] == ["a"]
    finally:
        await db.close()


async def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = await open_database(path, MIGRATIONS)
    await db.close()
    with pytest.raises(RuntimeError, match="newer than this code knows"):
        await open_database(path, MIGRATIONS[:1])
