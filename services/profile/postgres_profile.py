"""The data path's transactions on PostgreSQL: one short transaction per write.

Replicas write the same profiles at once. Every write (a Track, an Ingest request, an
import) is one READ COMMITTED transaction on the pool, run side by side with the others.
What makes stitching and merges correct across processes is the order in which a write
locks what it reads before deciding anything:

1. its identifiers (``profiles.lock_identities``: rows of ``identity_locks`` standing for
   them, in order, one statement), so two writes sharing one run one after the other and
   a new identifier is inserted by one write at a time;
2. the profiles owning them (``profiles.locked_owners``: ``FOR UPDATE`` in id order, read
   again under the lock), so a profile's state, identities and merges change under one
   write at a time, whichever identifiers led there.

A Track takes both in one call (``profiles.lock_for_write``, a server-side function that
also reads what the write decides on) and writes in one statement
(``profiles.write_tracked``): four statements in all with BEGIN and COMMIT, each a round
trip that costs CPU in this process and in the server (``bench/pg_write_cost.py``).

The usual Track takes none of those locks and no transaction (``write_unlocked``,
``tracking.track_unlocked``): it reads without locks (``profiles.read_for_write``) and
writes with one statement that commits only if the target profile's revision and the
segment's configuration are still what it read, two statements in all. What the locks
would have serialized, the statement's condition and the identities' primary key catch
instead: a profile written meanwhile, merged away or deleted fails the condition, a new
identifier inserted meanwhile the key; the write then runs locked, as above. Merges,
refused merges and events that leave a value out always run locked.

An answer of the server makes the whole transaction run again from the start, with
jittered back-off (``postgres.MAX_ATTEMPTS`` tries in all, then UNAVAILABLE, as a busy
SQLite store answers): 40P01, a deadlock (only when a
concurrent merge moved an identifier between the two reads of ``locked_owners``); 40001, a
serialization failure (what CockroachDB and YugabyteDB answer instead of waiting); 23505,
a unique violation (when an event's only profile was merged away while the event waited
for its lock, ``profiles.locked_owners``); 23503, a foreign key violation (the parent
segment was deleted while the write ran: the next attempt answers NOT_FOUND); and
``realtime.ConfigChanged`` (the write's configuration changed before it committed,
``realtime.still_current``).

Why not SERIALIZABLE: measured with 32 concurrent Tracks for 10,000 visitors in one
process (``bench/pg_writes.py``), PostgreSQL's SSI aborts many transactions on predicate
locks of shared index pages (about 400 events/s, over 100 Tracks failing after 12 tries
in 5 s, against about 1,150-1,700 events/s and none failing here), where these locks only
make a write wait for another write of the same visitor.

Durability: each connection commits with ``synchronous_commit = on`` (``open_pool``), so a
write returns only once its commit is flushed; concurrent commits share the server's WAL
flushes (its own group commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator

import asyncpg

from services.common import postgres
from services.common.errors import Unavailable
from services.common.sql import Postgres
from services.profile.realtime import ConfigChanged
from services.profile.sql_profile import T, Transactions, Work

log = logging.getLogger(__name__)

# Besides the server's conflicts (``postgres.RETRYABLE``): a unique violation and a changed
# configuration (see the module docstring), and a foreign key violation: the parent segment
# (or batch segment) a write refers to was deleted while it ran, which the next attempt
# answers as NOT_FOUND.
RETRYABLE = (
    *postgres.RETRYABLE,
    asyncpg.UniqueViolationError,
    asyncpg.ForeignKeyViolationError,
    ConfigChanged,
)


class PostgresTransactions(Transactions):
    """``Transactions`` over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.retries = 0  # transactions run again (tests and the bench read it)
        self.locked_after_unlocked = 0  # unlocked writes handed to ``write`` (likewise)

    async def write(self, work: Work[T], remaining: float | None = None) -> T:  # noqa: ARG002
        # ``remaining`` is not needed: there is no queue of ours to drop a write from, and a
        # caller that goes away cancels its task, which rolls its transaction back.
        for attempt in range(1, postgres.MAX_ATTEMPTS + 1):
            try:
                async with (
                    _unavailable_when_lost(),
                    self._pool.acquire() as conn,
                    conn.transaction(),
                ):
                    return await work(Postgres(conn))
            except RETRYABLE as exc:
                if attempt == postgres.MAX_ATTEMPTS:
                    raise Unavailable("The profile store is busy; retry shortly") from exc
                self.retries += 1
                log.debug("running a write again (attempt %s): %s", attempt, exc)
                backoff = min(postgres.MAX_BACKOFF, postgres.FIRST_BACKOFF * 2**attempt)
                await asyncio.sleep(random.uniform(0, backoff))
        raise AssertionError("unreachable")

    async def read(self, work: Work[T]) -> T:
        async with _unavailable_when_lost(), postgres.snapshot(self._pool) as sql:
            return await work(sql)

    async def write_unlocked(self, work: Work[T | None]) -> T | None:
        # Each statement commits on its own (no BEGIN, no COMMIT); a conflict of the server
        # failed the writing statement whole, so the write goes the locked way instead.
        try:
            async with _unavailable_when_lost(), self._pool.acquire() as conn:
                found = await work(Postgres(conn))
        except RETRYABLE as exc:
            log.debug("an unlocked write met a conflict: %s", exc)
            found = None
        if found is None:
            self.locked_after_unlocked += 1
        return found


# Answers of a server that is down, starting, shutting down or full, by SQLSTATE: class 08
# (connection exceptions), too many connections, and an administrator's or a crash's
# shutdown, or a server still starting up (57P01, 57P02, 57P03).
_OUTAGE_CLASSES = ("08",)
_OUTAGE_STATES = frozenset({"53300", "57P01", "57P02", "57P03"})


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (retry later), not a bug."""
    if isinstance(exc, OSError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return True
    state = str(getattr(exc, "sqlstate", "") or "")
    return isinstance(exc, asyncpg.PostgresError) and (
        state.startswith(_OUTAGE_CLASSES) or state in _OUTAGE_STATES
    )


@contextlib.asynccontextmanager
async def _unavailable_when_lost() -> AsyncIterator[None]:
    """A lost or refused connection as UNAVAILABLE (a 503: retry), not an internal error.

    A write whose connection broke is not run again here: it may have committed before the
    answer was lost, and running it twice would store its event twice. The caller retries.
    """
    try:
        yield
    except asyncpg.DataError:  # a value of the wrong type: a bug, not an outage
        raise
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("the profile store's database connection failed: %s", type(exc).__name__)
        raise Unavailable("The profile store is unavailable; retry shortly") from exc
