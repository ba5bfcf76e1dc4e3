"""The bench on PostgreSQL: a database of its own, and many profiles made in SQL.

``bench_database(admin_url)`` creates ``p13n_bench_<pid>_<hex>`` on the server (default
the local one, ``P13N_BENCH_POSTGRES_URL`` names another) and drops it afterwards; each
suite of the run gets its own schema prefix in it (``suite_env``).

``grow_profiles`` takes the profile store from ``have`` visitors (preloaded through the
Ingest API, so each profile is what the service itself writes) to ``want`` without the
service: in the profile schema, server-side, ``generate_series`` makes one profile per new
visitor with visitor 0's state (its attributes as the service computed them), its
``td_client_id`` identity (the load's own formula, ``workload.client_id``) and one stored
event, as the preload would. 100,000 took 3 s on the 2-core development machine, so a
million take well under a minute where the Ingest API would take hours; what the hot path
reads (an identity probe, a profile row) has the same shape and size as the service's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import procs, workload
from bench.preload import Preloaded

ADMIN_URL = os.environ.get(
    "P13N_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CHUNK = 100_000  # visitors per transaction while growing

# workload.client_id(n) in SQL: 8 hex digits, a fixed middle, (n * 7919) mod 2^48 in 12.
CLIENT_ID_SQL = (
    "lpad(to_hex(n), 8, '0') || '-5a1e-4c2b-9f3e-' "
    "|| lpad(to_hex((n * 7919) % 281474976710656), 12, '0')"
)


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@contextmanager
def bench_database(admin_url: str = ADMIN_URL) -> Iterator[str]:
    """A database for this run (its URL); dropped at the end. OSError if unreachable."""
    name = f"p13n_bench_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    except (asyncpg.PostgresError, TimeoutError) as error:
        raise OSError(f"PostgreSQL at {admin_url}: {error}") from error
    try:
        yield _with_database(admin_url, name)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def server_pid(url: str) -> int | None:
    """The PostgreSQL server's main process (the postmaster, parent of every backend) if it
    runs on this machine, so a run can count the database's CPU; else None."""
    return asyncio.run(_server_pid(url))


async def _server_pid(url: str) -> int | None:
    conn = await asyncpg.connect(url, timeout=10)
    try:  # the backend is asked while its connection is open: it ends with it
        return postgres_parent(await conn.fetchval("SELECT pg_backend_pid()"))
    finally:
        await conn.close()


def postgres_parent(backend: int) -> int | None:
    """The parent of ``backend`` if it is a postgres process of this machine."""
    with contextlib.suppress(OSError, ValueError):
        server = procs.parent_pid(backend)
        if Path(f"/proc/{server}/comm").read_text().strip() == "postgres":
            return server
    return None


# What the server did beside the suite's statements, counted since it started: the run's
# share is the difference of two readings (``activity_since``). PostgreSQL 17 moved the
# checkpoint counts from pg_stat_bgwriter to pg_stat_checkpointer.
_CHECKPOINTS = {
    "pg_stat_bgwriter": (
        "checkpoints_timed + checkpoints_req",
        "checkpoint_write_time + checkpoint_sync_time",
    ),
    "pg_stat_checkpointer": ("num_timed + num_requested", "write_time + sync_time"),
}
_ACTIVITY = """
SELECT ({count}) AS checkpoints, ({ms})::float8 AS checkpoint_ms,
       (SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0)
          FROM pg_stat_user_tables) AS autovacuums,
       d.xact_commit AS commits, d.xact_rollback AS rollbacks, d.deadlocks,
       d.blks_read AS blocks_read, d.temp_files
  FROM {view}, pg_stat_database d
 WHERE d.datname = current_database()
"""


def activity(url: str) -> dict[str, float]:
    """The server's counters now: checkpoints (and their ms writing and syncing), autovacuum
    and autoanalyze runs, this database's commits, rollbacks, deadlocks, blocks read from
    outside its buffers, temporary files."""
    return asyncio.run(_activity(url))


def activity_since(before: dict[str, float], url: str) -> dict[str, float]:
    """What the server did since ``before`` (``activity``). Backends report their counts
    within a second or so of their transactions: a run's last second may be missing."""
    now = activity(url)
    return {name: round(now[name] - before[name], 1) for name in now}


async def _activity(url: str) -> dict[str, float]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
        view = "pg_stat_checkpointer" if version >= 170000 else "pg_stat_bgwriter"
        count, ms = _CHECKPOINTS[view]
        row = await conn.fetchrow(_ACTIVITY.format(count=count, ms=ms, view=view))
        return {name: float(value) for name, value in row.items()}
    finally:
        await conn.close()


def suite_env(url: str, prefix: str) -> dict[str, str]:
    """The settings that put a suite's services on ``url`` under schemas ``<prefix>*``."""
    return {"P13N_DATABASE_URL": url, "P13N_DATABASE_SCHEMA_PREFIX": prefix}


def grow_profiles(
    url: str, prefix: str, account_id: str, parent_segment_id: str, have: int, want: int
) -> Preloaded:
    """Profiles for visitors ``have`` to ``want - 1``, made in SQL (see the module's doc)."""
    began = time.perf_counter()
    asyncio.run(_grow(url, f"{prefix}profile", account_id, int(parent_segment_id), have, want))
    return Preloaded(want - have, time.perf_counter() - began)


async def _grow(url: str, schema: str, account: str, ps: int, have: int, want: int) -> None:
    conn = await asyncpg.connect(url, server_settings={"search_path": schema}, timeout=10)
    try:
        template = await _template(conn, account, ps)
        for first in range(have, want, CHUNK):
            async with conn.transaction():
                await _chunk(conn, template, ps, first, min(want, first + CHUNK))
        await conn.execute("ANALYZE profiles; ANALYZE identities; ANALYZE events")
    finally:
        await conn.close()


async def _template(conn: Any, account: str, ps: int) -> dict[str, Any]:
    """Visitor 0's profile and one of its events, as the service stored them."""
    visitor = workload.client_id(0)
    profile = await conn.fetchrow(
        "SELECT p.state, p.update_time FROM identities AS i JOIN profiles AS p"
        " ON p.id = i.profile_id"
        " WHERE i.parent_segment_id = $1 AND i.key = 'td_client_id' AND i.value = $2",
        ps,
        visitor,
    )
    event = await conn.fetchrow(
        "SELECT database, table_name, time, body FROM events"
        " WHERE account_id = $1 AND strpos(body, $2) > 0 LIMIT 1",
        account,
        visitor,
    )
    if profile is None or event is None:
        raise RuntimeError(f"visitor 0 ({visitor}) has no profile or event to copy")
    return {"visitor": visitor, "account": account, **dict(profile), **dict(event)}


async def _chunk(conn: Any, template: dict[str, Any], ps: int, first: int, stop: int) -> None:
    last_id = await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM profiles")
    await conn.execute(
        "INSERT INTO profiles (parent_segment_id, canonical_id, cluster_size, state, update_time)"
        f" SELECT $1, {CLIENT_ID_SQL}, 1, $2, $3 FROM generate_series($4::bigint, $5::bigint) AS n",
        ps,
        template["state"],
        template["update_time"],
        first,
        stop - 1,
    )
    await conn.execute(
        "INSERT INTO identities (parent_segment_id, key, value, profile_id, first_seen)"
        " SELECT parent_segment_id, 'td_client_id', canonical_id, id, update_time"
        " FROM profiles WHERE id > $1",
        last_id,
    )
    await conn.execute(
        "INSERT INTO events (account_id, database, table_name, time, client_time, body)"
        f" SELECT a, d, t, $4, NULL, replace($5, $6, {CLIENT_ID_SQL})"
        " FROM (SELECT $1::text AS a, $2::text AS d, $3::text AS t) AS fixed,"
        " generate_series($7::bigint, $8::bigint) AS n",
        template["account"],
        template["database"],
        template["table_name"],
        template["time"],
        template["body"],
        template["visitor"],
        first,
        stop - 1,
    )
