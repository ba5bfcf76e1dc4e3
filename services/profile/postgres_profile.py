"""The data path's transactions on PostgreSQL: one SERIALIZABLE transaction per write.

Replicas write the same profiles at once, so every write (a Track, an Ingest request, an
import) is a SERIALIZABLE transaction (``postgres.serializable``): stitching reads the
owners of an event's identities and writes what it decided, and the server refuses to
commit a transaction whose reads another committed one changed (SQLSTATE 40001), which is
then run again from the start on fresh reads. Two replicas creating a profile for the same
new identity are such a conflict too: the identity's primary key was read first, so
PostgreSQL reports a serialization failure, not a unique violation (tests/profile
test_replicas.py checks it), and the retry finds the other's profile.

Durability: each connection commits with ``synchronous_commit = on`` (``open_pool``), so a
write returns only once its commit is flushed; concurrent commits share WAL flushes in the
server (its own group commit), which is why there is no batching writer here (docs:
decisions, with the measurement).
"""

from __future__ import annotations

import asyncpg

from services.common import postgres
from services.common.sql import Postgres
from services.profile.realtime import ConfigCache
from services.profile.sql_profile import SqlProfileStore, T, Transactions, Work


class PostgresTransactions(Transactions):
    """``Transactions`` over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, work: Work[T], remaining: float | None = None) -> T:  # noqa: ARG002
        # ``remaining`` is not needed: there is no queue of ours to drop a write from, and a
        # caller that goes away cancels its task, which rolls its transaction back.
        return await postgres.serializable(self._pool, work)

    async def read(self, work: Work[T]) -> T:
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await work(Postgres(conn))


def postgres_profile_store(pool: asyncpg.Pool, configs: ConfigCache) -> SqlProfileStore:
    return SqlProfileStore(PostgresTransactions(pool), configs)
