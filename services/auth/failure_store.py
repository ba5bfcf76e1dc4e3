"""Failure budgets in the store, shared by every auth process on it: implements ``FailureStore``.

One row per bucket (its budget, the caller's hash of its key, tokens and when), changed in
a transaction of its own whose first statement creates or locks the row, so concurrent
charges from any replica count one by one. Buckets that have refilled completely are
deleted whenever a full bucket is charged: a missing bucket is a full one. On PostgreSQL the
new state is notified on ``FAILURES_CHANNEL`` in the same transaction, prefixed with the
schema, for every process's ``StoreBuckets``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable

from services.auth.ratelimit import Limit
from services.auth.sql_base import SqlBase
from services.auth.store_protocols import BucketState
from services.common.sql import Sql

log = logging.getLogger(__name__)

FAILURES_CHANNEL = "p13n_auth_failures"


class SqlFailureStore(SqlBase):
    """``FailureStore`` on the auth database."""

    async def take_failure(self, budget: str, key: str, limit: Limit, now: float) -> BucketState:
        return await self._change(budget, key, limit, float(now), take=True)

    async def give_back_failure(
        self, budget: str, key: str, limit: Limit, now: float
    ) -> BucketState:
        return await self._change(budget, key, limit, float(now), take=False)

    async def read_failure_buckets(self, now: float, most: int) -> list[BucketState]:
        # Only buckets not yet full: a missing one is full. The most recently changed first.
        async with self._backend.reading() as sql:
            rows = await sql.fetch(
                "SELECT budget, key, tokens, updated FROM failure_buckets WHERE full_at > ? "
                "ORDER BY updated DESC LIMIT ?",
                now,
                most,
            )
        return [
            BucketState(row["budget"], row["key"], row["tokens"], row["updated"], False)
            for row in rows
        ]

    @contextlib.asynccontextmanager
    async def listening_failures(
        self, on_heard: Callable[[BucketState], None], on_missed: Callable[[], None]
    ) -> AsyncIterator[None]:
        def heard(payload: str) -> None:
            if not payload:  # a reconnect: what was sent while the connection was down is lost
                on_missed()
                return
            schema, _, state = payload.partition(" ")
            if state and schema == self._backend.schema_name:
                on_heard(BucketState(*json.loads(state)))

        async with self._backend.listening_on(FAILURES_CHANNEL, heard):
            yield

    async def _change(
        self, budget: str, key: str, limit: Limit, now: float, *, take: bool
    ) -> BucketState:
        async with self._backend.updating() as sql:
            # One statement creates a missing bucket full and locks the row either way: an
            # INSERT … DO NOTHING would lock nothing, and another replica's clean-up could
            # delete the row before a second statement read it.
            row = await sql.fetchrow(
                "INSERT INTO failure_buckets (budget, key, tokens, updated, full_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (budget, key) "
                "DO UPDATE SET budget = excluded.budget RETURNING tokens, updated",
                budget,
                key,
                float(limit.burst),
                now,
                now,
            )
            assert row is not None  # an upsert always returns its row
            was_full = limit.refill(row["tokens"], row["updated"], now)[0] >= limit.burst
            if take:
                allowed, tokens, updated = limit.take(row["tokens"], row["updated"], now)
            else:
                tokens, updated = limit.refill(row["tokens"], row["updated"], now)
                allowed, tokens = True, min(float(limit.burst), tokens + 1.0)
            await sql.execute(
                "UPDATE failure_buckets SET tokens = ?, updated = ?, full_at = ? "
                "WHERE budget = ? AND key = ?",
                tokens,
                updated,
                limit.full_at(tokens, updated),
                budget,
                key,
            )
            state = BucketState(budget, key, tokens, updated, allowed)
            await _tell_every_process(sql, state)
        if was_full:
            # A charge to a full bucket (a new one, or one refilled since) is where the table
            # grows: as many full buckets go as new ones come.
            await self._forget_full_buckets(now)
        return state

    async def _forget_full_buckets(self, now: float) -> None:
        # Its own transaction, after the bucket's: it never holds a bucket's lock while it
        # waits for another's. Losing a race here only leaves a full bucket for next time.
        try:
            async with self._backend.updating() as sql:
                await sql.execute("DELETE FROM failure_buckets WHERE full_at <= ?", now)
        except Exception as error:
            log.debug("full failure buckets not deleted: %s", type(error).__name__)


async def _tell_every_process(sql: Sql, state: BucketState) -> None:
    if sql.dialect != "postgresql":
        return  # one SQLite process has no one to tell
    fields = [state.budget, state.key, state.tokens, state.updated, state.allowed]
    await sql.execute(
        "SELECT pg_notify(?, current_schema() || ' ' || ?)", FAILURES_CHANNEL, json.dumps(fields)
    )
