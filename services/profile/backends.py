"""The profile service's storage, opened on the backend the settings name.

Without ``P13N_DATABASE_URL``: one SQLite file under the data directory, with its
group-commit writer (``sqlite_profile``). With it: a pool on the profile schema of that
PostgreSQL database (``postgres_profile``), where several replicas may write at once. Either
way the handlers get the same three things: the data path's ``Transactions``, the
configuration store, and a ``reading()`` of committed data for the audit log.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.common.sql import Postgres, Sql
from services.common.storage import Database
from services.profile.config_store import ConfigStore
from services.profile.group_commit import GroupCommit
from services.profile.postgres_profile import PostgresTransactions
from services.profile.sql_config import PostgresConfigStore, SqliteConfigStore
from services.profile.sql_profile import Transactions
from services.profile.sqlite_profile import SqliteTransactions
from services.profile.store import open_pool, open_store


@dataclass(frozen=True)
class Storage:
    """An open profile store. ``db``/``writer`` on SQLite, ``pool`` on PostgreSQL (tests)."""

    transactions: Transactions
    configs: ConfigStore
    reading: Callable[[], AbstractAsyncContextManager[Sql]]
    db: Database | None = None
    writer: GroupCommit | None = None
    pool: asyncpg.Pool | None = None


@contextlib.asynccontextmanager
async def opened(
    data_dir: Path,
    database_url: str | None = None,
    schema: str = "p13n_profile",
    *,
    writes_on_loop: bool = False,
) -> AsyncIterator[Storage]:
    """The store for the block; on SQLite the writer stops (finishing its batch) before the
    file closes. By then the server has stopped taking calls, so nothing new is queued.

    ``writes_on_loop`` (the single-process mode, SQLite): the writer runs its batches on the
    event loop's thread (``Database.run_here`` says why)."""
    async with contextlib.AsyncExitStack() as stack:
        if database_url is None:
            db = await open_store(data_dir, loop_writes=writes_on_loop)
            stack.push_async_callback(db.close)
            writer = GroupCommit(db, on_loop=writes_on_loop)
            writer.start()
            stack.push_async_callback(writer.close)
            yield Storage(
                SqliteTransactions(db, writer), SqliteConfigStore(db), db.sql_reading, db, writer
            )
            return
        pool = await open_pool(database_url, schema)
        stack.push_async_callback(pool.close)

        @contextlib.asynccontextmanager
        async def reading() -> AsyncIterator[Sql]:
            async with pool.acquire() as conn:
                yield Postgres(conn)

        yield Storage(PostgresTransactions(pool), PostgresConfigStore(pool), reading, pool=pool)
