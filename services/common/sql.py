"""One way to speak SQL to either backend: SQLite (embedded default) or PostgreSQL.

Stores write their statements once, with ``?`` placeholders, against ``Sql``; the adapter
turns them into what its driver wants (``$1, $2 …`` for asyncpg). SQL that both dialects
understand is the rule (``INSERT … ON CONFLICT DO NOTHING``, ``RETURNING id``); where they
differ a store asks ``sql.dialect``.

Three adapters:

- ``AsyncSqlite`` wraps an aiosqlite connection (a thread hop per statement);
- ``ThreadSqlite`` wraps the plain sqlite3 connection *on aiosqlite's thread*: its methods
  are coroutines that never suspend, so a whole transaction written as ``async`` code runs
  there in one hop through ``run_to_completion`` (the profile service's hot path);
- ``Postgres`` wraps an asyncpg connection.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import aiosqlite
import asyncpg

T = TypeVar("T")

Dialect = Literal["sqlite", "postgresql"]


class Row(Protocol):
    """A result row, by column name or position (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...


class Sql(Protocol):
    """Statements on one connection (inside whatever transaction its owner opened)."""

    dialect: Dialect

    async def fetch(self, query: str, *args: object) -> Sequence[Row]: ...

    async def fetchrow(self, query: str, *args: object) -> Row | None: ...

    async def fetchval(self, query: str, *args: object) -> Any:
        """The first column of the first row, or None when there is no row."""
        ...

    async def execute(self, query: str, *args: object) -> int:
        """Runs a statement; the number of rows it inserted, updated or deleted."""
        ...

    async def executemany(self, query: str, rows: Iterable[Sequence[object]]) -> None: ...


class AsyncSqlite:
    """``Sql`` over an aiosqlite connection."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, query: str, *args: object) -> Sequence[Row]:
        async with self._conn.execute(query, args) as cursor:
            return list(await cursor.fetchall())

    async def fetchrow(self, query: str, *args: object) -> Row | None:
        async with self._conn.execute(query, args) as cursor:
            row: Row | None = await cursor.fetchone()
            return row

    async def fetchval(self, query: str, *args: object) -> Any:
        row = await self.fetchrow(query, *args)
        return None if row is None else row[0]

    async def execute(self, query: str, *args: object) -> int:
        async with self._conn.execute(query, args) as cursor:
            changed: int = cursor.rowcount
            return max(changed, 0)

    async def executemany(self, query: str, rows: Iterable[Sequence[object]]) -> None:
        await self._conn.executemany(query, rows)


class ThreadSqlite:
    """``Sql`` over a sqlite3 connection, for coroutines run by ``run_to_completion``."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetch(self, query: str, *args: object) -> Sequence[Row]:
        return self._conn.execute(query, args).fetchall()

    async def fetchrow(self, query: str, *args: object) -> Row | None:
        row: Row | None = self._conn.execute(query, args).fetchone()
        return row

    async def fetchval(self, query: str, *args: object) -> Any:
        row = self._conn.execute(query, args).fetchone()
        return None if row is None else row[0]

    async def execute(self, query: str, *args: object) -> int:
        return max(self._conn.execute(query, args).rowcount, 0)

    async def executemany(self, query: str, rows: Iterable[Sequence[object]]) -> None:
        self._conn.executemany(query, rows)


def run_to_completion(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine that never suspends (``ThreadSqlite`` work) synchronously.

    The same ``async`` store code then serves both backends: awaited on the event loop over
    asyncpg, or run whole on SQLite's thread. A coroutine that does suspend was handed an
    adapter that does real I/O, which is a bug: it is closed and reported.
    """
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("run_to_completion: the coroutine suspended (it needs an event loop)")


class Postgres:
    """``Sql`` over an asyncpg connection (or pool: each statement then takes any one)."""

    dialect: Dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self._conn = conn

    async def fetch(self, query: str, *args: object) -> Sequence[Row]:
        rows: list[Row] = await self._conn.fetch(numbered(query), *args)
        return rows

    async def fetchrow(self, query: str, *args: object) -> Row | None:
        row: Row | None = await self._conn.fetchrow(numbered(query), *args)
        return row

    async def fetchval(self, query: str, *args: object) -> Any:
        return await self._conn.fetchval(numbered(query), *args)

    async def execute(self, query: str, *args: object) -> int:
        status: str = await self._conn.execute(numbered(query), *args)
        return affected(status)

    async def executemany(self, query: str, rows: Iterable[Sequence[object]]) -> None:
        await self._conn.executemany(numbered(query), list(rows))


# A '…' literal (with '' inside), a "…" identifier, or a ? placeholder.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


@functools.lru_cache(maxsize=1024)
def numbered(query: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2 …`` (none inside quotes is touched)."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) != "?":
            return match.group(0)
        count += 1
        return f"${count}"

    return _TOKENS.sub(replace, query)


def affected(status: str) -> int:
    """Rows changed, from a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0
