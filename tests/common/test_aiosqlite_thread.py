"""The aiosqlite adapter against the pinned aiosqlite: fails if its private API moved.

``services.common.aiosqlite_thread`` relies on ``Connection._execute`` and
``Connection._conn``; these tests run on the version pyproject.toml pins, so an upgrade
that renames or changes either fails here, not in production.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from pathlib import Path

import aiosqlite
import pytest

from services.common.aiosqlite_thread import call_here, call_on_thread

ROOT = Path(__file__).resolve().parents[2]


def _pinned() -> str:
    found = re.search(r'"aiosqlite==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert found, "pyproject.toml no longer pins aiosqlite exactly"
    return found.group(1)


def test_the_installed_aiosqlite_is_the_pinned_one() -> None:
    assert aiosqlite.__version__ == _pinned()


def test_the_private_names_the_adapter_uses_exist() -> None:
    assert asyncio.iscoroutinefunction(aiosqlite.Connection._execute)
    assert isinstance(aiosqlite.Connection.__dict__["_conn"], property)


async def test_the_function_runs_on_the_connection_thread_with_its_sqlite3_connection(
    tmp_path: Path,
) -> None:
    async with aiosqlite.connect(tmp_path / "x.db") as db:
        # A SQL function runs where SQLite runs: on the connection's thread (public API).
        await db.create_function("thread_id", 0, threading.get_ident)
        async with db.execute("SELECT thread_id()") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        connection_thread = row[0]

        def probe(conn: sqlite3.Connection, word: str, *, times: int) -> tuple[int, str, int]:
            value = conn.execute("SELECT ?", (word * times,)).fetchone()[0]
            return threading.get_ident(), value, conn.execute("SELECT thread_id()").fetchone()[0]

        ran_on, value, sql_thread = await call_on_thread(db, probe, "ab", times=2)

    assert ran_on == connection_thread == sql_thread
    assert ran_on != threading.get_ident()  # not on the event loop's thread
    assert value == "abab"


async def test_a_statement_before_it_is_seen_and_its_exception_reaches_the_caller(
    tmp_path: Path,
) -> None:
    async with aiosqlite.connect(tmp_path / "x.db", isolation_level=None) as db:
        await db.execute("CREATE TABLE t (n INTEGER)")
        await db.execute("INSERT INTO t VALUES (7)")

        def read(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT n FROM t").fetchone()[0])

        def fail(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT * FROM missing")

        assert await call_on_thread(db, read) == 7
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await call_on_thread(db, fail)


async def test_a_function_run_here_runs_on_the_calling_thread_with_the_same_connection(
    tmp_path: Path,
) -> None:
    async with aiosqlite.connect(
        tmp_path / "x.db", isolation_level=None, check_same_thread=False
    ) as db:
        await db.execute("CREATE TABLE t (n INTEGER)")

        def write(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT INTO t VALUES (7)")
            return threading.get_ident()

        assert call_here(db, write) == threading.get_ident()
        # What it wrote is the connection's own: the thread's next statement sees it.
        async with db.execute("SELECT n FROM t") as cursor:
            assert [tuple(row) for row in await cursor.fetchall()] == [(7,)]


async def test_without_check_same_thread_off_sqlite3_refuses_the_other_thread(
    tmp_path: Path,
) -> None:
    async with aiosqlite.connect(tmp_path / "x.db") as db:
        with pytest.raises(sqlite3.ProgrammingError, match="same thread"):
            call_here(db, lambda conn: conn.execute("SELECT 1"))
