"""What a running suite stored, read (or changed) behind its API, on either backend.

A test that checks the rows themselves (an acknowledged event is in ``events``, an audit
row holds no secret) or plays a time machine (a session authenticated an hour ago) writes
its statement once against ``Sql``, with ``?`` placeholders, and ``transaction`` runs it on
the service's store as the suite is configured: the SQLite file ``<service>.db`` in the data
directory, or the service's schema in the PostgreSQL database of ``P13N_DATABASE_URL``. Where
the dialects differ (reading a JSON field of a TEXT column) ``json_text`` gives the
expression for the connection at hand.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any, TypeVar, cast

import asyncpg

from services.common.config import Settings
from services.common.sql import Dialect, Postgres, Row, Sql, ThreadSqlite, run_to_completion

T = TypeVar("T")


def transaction(
    settings: Settings, service: str, work: Callable[[Sql], Coroutine[Any, Any, T]]
) -> T:
    """Runs ``work`` in one committed transaction on ``service``'s store; its result.

    It blocks: from an async test, call it where blocking the loop a moment is harmless.
    """
    if settings.database_url is None:
        path = settings.data_dir / f"{service}.db"
        # mode=rw: a missing file is an error, never created empty here. The services hold
        # the file open too: wait for their write lock as they would.
        uri = f"file:{path}?mode=rw"
        with closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn, conn:
            conn.row_factory = sqlite3.Row
            return run_to_completion(work(ThreadSqlite(conn)))
    work_there = _on_postgres(settings.database_url, settings.database_schema(service), work)
    # A thread of its own: the caller may be an async test, whose loop is running here.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work_there).result()


async def _on_postgres(url: str, schema: str, work: Callable[[Sql], Coroutine[Any, Any, T]]) -> T:
    conn = await asyncpg.connect(url, timeout=10, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            return await work(Postgres(conn))
    finally:
        await conn.close()


def rows(settings: Settings, service: str, query: str, *args: object) -> list[tuple[Any, ...]]:
    """The rows ``query`` finds in ``service``'s store, as tuples."""

    async def fetch(sql: Sql) -> list[tuple[Any, ...]]:
        return [_values(row) for row in await sql.fetch(query, *args)]

    return transaction(settings, service, fetch)


def _values(row: Row) -> tuple[Any, ...]:
    # sqlite3.Row and asyncpg.Record both iterate over their values in column order.
    return tuple(cast(Iterable[Any], row))


def json_text(dialect: Dialect, column: str, field: str) -> str:
    """SQL for the top-level ``field`` of the JSON object held as text in ``column``.

    The value comes back as SQLite stores it (a number stays a number) or as PostgreSQL's
    text; compare it through ``str``/``int`` where both backends run.
    """
    if dialect == "sqlite":
        return f"json_extract({column}, '$.{field}')"
    return f"(({column})::jsonb ->> '{field}')"


def dialect_of(settings: Settings) -> Dialect:
    return "sqlite" if settings.database_url is None else "postgresql"


def dump(settings: Settings, service: str) -> str:
    """``service``'s whole store as its operator's own tool dumps it, as SQL text.

    SQLite: the ``sqlite3`` shell's ``.dump``. PostgreSQL: ``pg_dump`` of the service's
    schema, data only, as ``INSERT INTO <table> VALUES (…)`` (the schema qualifier left
    out, so both read alike), without what is not data: comments, settings, sequence
    positions (a refused insert may advance one) and the random ``\\restrict`` key pg_dump
    writes into every dump.
    """
    if settings.database_url is None:
        shell = shutil.which("sqlite3")
        assert shell, "the sqlite3 command-line shell is needed (apt-get install sqlite3)"
        path = settings.data_dir / f"{service}.db"
        command = [shell, str(path), ".dump"]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "PostgreSQL's pg_dump is needed (apt-get install postgresql-client)"
    schema = settings.database_schema(service)
    command = [pg_dump, "--data-only", "--inserts", f"--schema={schema}", settings.database_url]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    data = [line for line in text.splitlines() if line and not line.startswith(_PG_DUMP_NOISE)]
    return "\n".join(data).replace(f"INSERT INTO {schema}.", "INSERT INTO ")


# What pg_dump writes beside the rows: comments, session settings, sequence positions and
# ``set_config`` calls, and the random key of its ``\\restrict`` guard.
_PG_DUMP_NOISE = ("--", "SET ", "SELECT pg_catalog.", "\\restrict ", "\\unrestrict ")
