"""The operator's commands write only a database the auth service made (issue 18, found 5).

Run in another pod (another volume), or before the auth service ever started, ``p13n
bootstrap`` used to create an ``auth.db`` of its own there and print a master key that no
auth process knew (401). Now it refuses, says where it looked and where to run instead,
and creates nothing: no file on SQLite, no schema on PostgreSQL. Once the auth service has
opened its store, the same command works.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from support.ports import free_port

from services.auth import operator
from services.auth.store import MIGRATIONS, PG_MIGRATIONS, database_path, open_store
from services.auth.validation import FLAG_PUBLIC_SERVICES
from services.common.config import Settings
from services.common.errors import FailedPrecondition

SECRET_KEY = os.urandom(32)
PASSWORD = "correct horse battery staple"


async def _bootstrap(where: Path | Settings) -> dict[str, str]:
    return await operator.bootstrap(
        where, SECRET_KEY, email="owner@shop.example", password=PASSWORD, account="Shop"
    )


async def _schema_exists(settings: Settings) -> bool:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        found = await conn.fetchval(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1", settings.database_schema("auth")
        )
    finally:
        await conn.close()
    return found is not None


def _files(directory: Path) -> set[Path]:
    return set(directory.rglob("*"))


async def _nothing_was_created(settings: Settings, before: set[Path]) -> None:
    assert _files(settings.data_dir) == before
    if settings.database_url is not None:
        assert not await _schema_exists(settings)


async def test_bootstrap_where_no_auth_database_lives_is_refused_and_creates_nothing(
    auth_settings: Settings,
) -> None:
    before = _files(auth_settings.data_dir)
    with pytest.raises(FailedPrecondition) as caught:
        await _bootstrap(auth_settings)
    message = caught.value.message
    assert message.endswith("nothing was created")
    if auth_settings.database_url is None:
        assert message.startswith(
            f"no auth database at {auth_settings.data_dir / 'auth.db'}: p13n bootstrap must "
            "run where the auth service keeps its data (P13N_DATA_DIR), e.g. "
            "`kubectl exec deploy/p13n-auth -- p13n bootstrap ...`, or start the auth "
            "service first"
        )
    else:
        schema = auth_settings.database_schema("auth")
        assert message.startswith(f"the auth schema {schema} in postgresql://")
        assert "does not exist" in message
        assert "start (or upgrade) the auth service first" in message
    await _nothing_was_created(auth_settings, before)


async def test_flags_set_where_no_auth_database_lives_is_refused_and_creates_nothing(
    auth_settings: Settings,
) -> None:
    before = _files(auth_settings.data_dir)
    with pytest.raises(FailedPrecondition, match="p13n flags set") as caught:
        await operator.set_flag(auth_settings, "1", FLAG_PUBLIC_SERVICES, True)
    assert caught.value.reason == "NO_AUTH_DATABASE"
    await _nothing_was_created(auth_settings, before)


async def test_bootstrap_after_the_auth_service_made_its_database_works(
    auth_settings: Settings,
) -> None:
    # What the auth service does first at start (services/auth/server.py's lifespan).
    await (await open_store(auth_settings)).close()
    boot = await _bootstrap(auth_settings)
    await operator.set_flag(auth_settings, boot["account_id"], FLAG_PUBLIC_SERVICES, True)
    store = await open_store(auth_settings)
    try:
        assert (await store.login("owner@shop.example")) is not None
    finally:
        await store.close()


async def test_a_data_directory_path_is_checked_like_settings(tmp_path: Path) -> None:
    """The short form (a data directory) the tests and the demo use is checked too."""
    with pytest.raises(FailedPrecondition, match="no auth database at"):
        await _bootstrap(tmp_path)
    assert _files(tmp_path) == set()


async def test_a_schema_behind_this_code_is_refused_not_migrated(
    postgres_env: dict[str, str], tmp_path: Path
) -> None:
    """An auth schema the auth service has not migrated to this code's version (an
    upgrade under way: the new CLI, the old auth) is left for the auth service."""
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **postgres_env})
    await (await open_store(settings)).close()
    assert settings.database_url is not None
    schema = settings.database_schema("auth")
    conn = await asyncpg.connect(settings.database_url)
    try:
        latest = await conn.fetchval(f'SELECT MAX(version) FROM "{schema}".schema_migrations')
        await conn.execute(f'DELETE FROM "{schema}".schema_migrations WHERE version = $1', latest)
        with pytest.raises(FailedPrecondition, match=f"is at version {latest - 1}"):
            await _bootstrap(settings)
        assert (
            await conn.fetchval(f'SELECT MAX(version) FROM "{schema}".schema_migrations')
            == latest - 1
        )
    finally:
        await conn.close()


async def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://operator:hunter2-secret@127.0.0.1:{free_port()}/p13n"
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), "P13N_DATABASE_URL": url})
    with pytest.raises(FailedPrecondition) as caught:
        await _bootstrap(settings)
    message = caught.value.message
    assert message.startswith(
        "p13n bootstrap cannot reach the auth database at postgresql://operator:***@127.0.0.1:"
    )
    assert message.endswith("check P13N_DATABASE_URL; nothing was created")
    assert "hunter2" not in message


def _set_sqlite_version(data_dir: Path, version: int) -> None:
    conn = sqlite3.connect(database_path(data_dir), isolation_level=None)
    try:
        conn.execute(f"PRAGMA user_version = {version}")
    finally:
        conn.close()


def _sqlite_version(data_dir: Path) -> int:
    conn = sqlite3.connect(database_path(data_dir))
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


async def test_a_sqlite_database_behind_this_code_is_refused_not_migrated(
    tmp_path: Path,
) -> None:
    """Issue 18 review: an auth.db the auth service has not migrated to this code's
    version is left for the auth service, as on PostgreSQL (it used to be migrated)."""
    await (await open_store(tmp_path)).close()
    behind = len(MIGRATIONS) - 1
    _set_sqlite_version(tmp_path, behind)
    with pytest.raises(FailedPrecondition) as caught:
        await _bootstrap(tmp_path)
    assert caught.value.reason == "NO_AUTH_DATABASE"
    assert caught.value.message.startswith(
        f"the auth database {tmp_path / 'auth.db'} is at version {behind}, and p13n "
        f"bootstrap needs version {len(MIGRATIONS)}: start (or upgrade) the auth service first"
    )
    assert _sqlite_version(tmp_path) == behind


async def test_a_database_newer_than_this_code_sends_the_operator_to_the_auth_pod(
    auth_database: Settings,
) -> None:
    """Issue 18 review: a CLI older than the auth service that migrated the database
    (PostgreSQL: a traceback from the migration code; SQLite: not checked) now says to run
    the auth service's own p13n, on both backends, and changes nothing."""
    if auth_database.database_url is None:
        newer = len(MIGRATIONS) + 1
        _set_sqlite_version(auth_database.data_dir, newer)
        where = f"the auth database {auth_database.data_dir / 'auth.db'}"
        known = len(MIGRATIONS)
    else:
        newer = len(PG_MIGRATIONS) + 1
        schema = auth_database.database_schema("auth")
        conn = await asyncpg.connect(auth_database.database_url)
        try:
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (version, applied_time) VALUES ($1, 0)',
                newer,
            )
        finally:
            await conn.close()
        where = f"the auth schema {schema} in postgresql://"
        known = len(PG_MIGRATIONS)
    for command, refused in (
        ("bootstrap", lambda: _bootstrap(auth_database)),
        ("flags set", lambda: operator.set_flag(auth_database, "1", FLAG_PUBLIC_SERVICES, True)),
    ):
        with pytest.raises(FailedPrecondition) as caught:
            await refused()
        assert caught.value.reason == "AUTH_DATABASE_NEWER"
        assert caught.value.message.startswith(where)
        assert (
            f"is at version {newer}, newer than this p13n knows ({known}): run the auth "
            f"service's own p13n, e.g. `kubectl exec deploy/p13n-auth -- p13n {command} ...`; "
            "nothing was created"
        ) in caught.value.message


async def test_an_auth_database_that_is_not_one_is_named(tmp_path: Path) -> None:
    database_path(tmp_path).write_bytes(b"not a database " * 100)
    with pytest.raises(FailedPrecondition) as caught:
        await _bootstrap(tmp_path)
    assert caught.value.reason == "AUTH_DATABASE_UNREACHABLE"
    assert caught.value.message == (
        f"p13n bootstrap cannot read the auth database at {tmp_path / 'auth.db'} "
        "(DatabaseError: file is not a database); nothing was created"
    )
