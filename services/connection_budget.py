"""How many PostgreSQL connections the suite may open, checked before it starts.

Each process keeps a pool of its own (sized for its own load: the profile service's 20
carry its measured write concurrency) and a connection per channel it listens on. With
``p13n up --replicas N`` every service runs N processes, so the suite may open N times
``PER_REPLICA`` connections; at start each process also opens one more for a moment (its
migrations). Pools grow only under load: a server too small for the sum works until the
busiest minute, then refuses connections ("too many clients"). So ``p13n up`` refuses to
start when the server's ``max_connections`` (less the superusers' reserve) cannot hold the
suite, and says what to change, rather than shrinking pools where it would go unseen.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from services.common import postgres
from services.common.config import ConfigError
from services.offers.store import POOL_SIZE as OFFERS_POOL
from services.profile.store import PG_POOL_SIZE as PROFILE_POOL

log = logging.getLogger(__name__)

# Per process of each service: its pool's maximum, plus one connection per listener
# (auth: credential changes and failure budgets; offers: personalization revisions).
PER_PROCESS = {
    "auth": postgres.DEFAULT_POOL_SIZE + 2,
    "profile": PROFILE_POOL,
    "offers": OFFERS_POOL + 1,
}
PER_REPLICA = sum(PER_PROCESS.values())


def needed(replicas: int) -> int:
    return replicas * PER_REPLICA


def refusal(replicas: int, max_connections: int, reserved: int) -> str | None:
    """Why the server cannot hold ``replicas`` of every service, or None if it can."""
    usable = max_connections - reserved
    if needed(replicas) <= usable:
        return None
    share = ", ".join(f"{name} {count}" for name, count in PER_PROCESS.items())
    fits = usable // PER_REPLICA
    return (
        f"--replicas {replicas} may open up to {needed(replicas)} PostgreSQL connections "
        f"({PER_REPLICA} per replica: {share}), but the server allows {usable} "
        f"(max_connections {max_connections}, {reserved} reserved for superusers); raise "
        f"max_connections to at least {needed(replicas) + reserved}, put a pooler such as "
        f"PgBouncer in front, or run at most {fits} replica{'s' if fits != 1 else ''}"
    )


async def _server_limits(url: str) -> tuple[int, int, int]:
    conn = await postgres.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int,"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
    finally:
        await conn.close()
    return int(row[0]), int(row[1]), int(row[2]) - 1  # not this connection


# A server started beside p13n (compose, systemd) may still be booting: connection errors
# are tried again for this long before ``p13n up`` gives up.
REACH_SECONDS = 30.0
_UNREACHABLE = (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.InterfaceError)


async def _limits_when_reachable(url: str, patience: float) -> tuple[int, int, int]:
    deadline = time.monotonic() + patience
    while True:
        try:
            return await _server_limits(url)
        except _UNREACHABLE:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(1.0)


def check(url: str, replicas: int, patience: float = REACH_SECONDS) -> None:
    """Raises ConfigError when the server cannot hold the replicas (a message that says
    what to change) or cannot be reached; warns when others already use what it would
    need. One process per service is only warned about: its pools open connections as load
    comes (one each at rest), and a small server may well hold what it really uses."""
    try:
        max_connections, reserved, in_use = asyncio.run(_limits_when_reachable(url, patience))
    except (*_UNREACHABLE, asyncpg.PostgresError, ValueError, OverflowError) as error:
        # asyncpg's messages name the host, never the password; the URL is redacted.
        raise ConfigError(
            f"cannot reach PostgreSQL at {postgres.redacted(url)}: {error}"
        ) from error
    reason = refusal(replicas, max_connections, reserved)
    if reason is not None and replicas > 1:
        raise ConfigError(reason)
    if reason is not None:
        log.warning("%s", reason)
        return
    free = max_connections - reserved - in_use
    if needed(replicas) > free:
        log.warning(
            "PostgreSQL has %s connections free now (%s in use by others); the suite may "
            "open up to %s under load",
            free,
            in_use,
            needed(replicas),
        )
