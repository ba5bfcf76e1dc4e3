"""The one place that uses aiosqlite's private API: running a function of the connection.

aiosqlite gives each connection one worker thread and hands every call to it in order; its
own public methods (``execute``, ``commit``, ...) are built on ``Connection._execute(fn,
*args)``, which runs ``fn`` on that thread, and ``Connection._conn``, the ``sqlite3``
connection living there. aiosqlite has no public way to run a function of our own on that
thread, and p13n needs one: a Track or Ingest unit issues dozens of statements, and one hop
to the thread for all of them costs far less than one hop per statement (see
``storage.run_sync``, the product's only caller).

Both names are private to aiosqlite, so this adapter is pinned with it: pyproject.toml pins
``aiosqlite==0.22.1`` and ``tests/common/test_aiosqlite_thread.py`` fails if either name is
gone or ``fn`` no longer runs on the connection's thread. Upgrading aiosqlite means rerunning
that test and, if it fails, changing these functions and nothing else. (``bench/sqlcount``
wraps the same ``Connection._execute`` to count round trips; the same test covers it.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import aiosqlite

T = TypeVar("T")
P = ParamSpec("P")


async def call_on_thread(
    db: aiosqlite.Connection,
    fn: Callable[Concatenate[sqlite3.Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Runs ``fn(sqlite3_connection, *args, **kwargs)`` on ``db``'s thread, after every call
    queued before it, and returns its result (or raises its exception) on the event loop."""
    conn: sqlite3.Connection = db._conn
    result: T = await db._execute(fn, conn, *args, **kwargs)
    return result


def call_here(
    db: aiosqlite.Connection,
    fn: Callable[Concatenate[sqlite3.Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Runs ``fn(sqlite3_connection, *args, **kwargs)`` on the calling thread, not on
    ``db``'s. The connection must have been opened with ``check_same_thread=False``, and
    nothing may run on its thread meanwhile: the caller holds the ``storage.Database``
    lock, whose holders leave that thread idle when they let go of it."""
    conn: sqlite3.Connection = db._conn
    return fn(conn, *args, **kwargs)
