"""A real PostgreSQL for the tests: one database per test run, one schema prefix per test.

The server is the one on 127.0.0.1:5432 (``P13N_TEST_POSTGRES_URL`` names another). Each
run creates ``p13n_test_<host>_<pid>_<random>`` and drops it at the end; each test that asks for
PostgreSQL gets a schema prefix of its own in it, so suites never see each other's rows.
Where the server cannot be reached the tests that need it are skipped, except under CI
(``CI=true``), where every skip fails the run (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ADMIN_URL = os.environ.get(
    "P13N_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

_prefixes = itertools.count(1)
# Names this host (and PID namespace, for containers) in its run databases' names.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def _run_admin(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def unreachable(reason: str) -> None:
    """Skips the test (under CI=true tests/conftest.py turns every skip into a failure)."""
    pytest.skip(f"PostgreSQL at {ADMIN_URL} cannot be reached: {reason}")


async def _drop_abandoned() -> None:
    """Drops the databases of earlier runs on this machine whose process is gone (a run
    killed before its teardown leaves its database behind)."""
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        names = [
            row[0]
            for row in await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE 'p13n\\_test\\_%'"
            )
        ]
        for name in _of_dead_processes(names):
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _of_dead_processes(names: list[str]) -> list[str]:
    """This host's run databases (``p13n_test_<host>_<pid>_<random>``) whose process no
    longer exists: another machine's or container's runs (another PID namespace, another
    host name) are never touched."""
    pids = {
        name: parts[3] for name in names if len(parts := name.split("_")) == 5 and parts[2] == _HOST
    }
    return [
        name for name, pid in pids.items() if pid.isdigit() and not Path(f"/proc/{pid}").exists()
    ]


def database_for_run() -> Iterator[str]:
    """Creates this run's database, yields its URL, drops it afterwards."""
    name = f"p13n_test_{_HOST}_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_drop_abandoned())
        asyncio.run(_run_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unreachable(str(exc) or type(exc).__name__)
    try:
        yield _with_database(ADMIN_URL, name)
    finally:
        asyncio.run(_run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def schema_prefix() -> str:
    """A schema prefix no other test of this run has."""
    return f"t{next(_prefixes)}_"


def suite_env(url: str) -> dict[str, str]:
    """Settings that put a suite on the database at ``url``, in schemas of its own."""
    return {"P13N_DATABASE_URL": url, "P13N_DATABASE_SCHEMA_PREFIX": schema_prefix()}
