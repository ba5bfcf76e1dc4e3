"""Keeping a replica's compiled personalizations current with every other replica's writes.

On PostgreSQL several offers processes share the personalizations; each compiles them
into a cache keyed by revision (``services.offers.compiled_cache``), so each must learn of
the others' writes. Two ways, either enough on its own:

- a write notifies ``<schema>.changed`` in its transaction, with the parent segment and its
  new revision; every process listens and notes the revision at once (milliseconds);
- every ``CHECK_INTERVAL`` seconds each process reads the revisions of the parent segments
  it has compiled (a primary-key lookup), which catches a notification lost while the
  listening connection was down. A reconnect of the listener checks at once.

So a change through one replica is served by every replica within ``CHECK_INTERVAL`` plus
one read, even when notifications fail; with them, within milliseconds. SQLite has one
process and needs neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.common.postgres import Listener
from services.offers.store import PersonalizationStore, parse_notification

log = logging.getLogger(__name__)

CHECK_INTERVAL = 0.25  # seconds between version checks: the bound when a notification is lost
CHECK_TIMEOUT = 2.0  # seconds one check may take before it is abandoned and tried again


class Follower:
    """Feeds the store's ``Revisions`` from notifications and from periodic checks."""

    def __init__(
        self,
        store: PersonalizationStore,
        url: str,
        *,
        listen: bool = True,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        """Follows the writes to ``store`` (on PostgreSQL at ``url``); ``listen=False``
        leaves only the periodic check (to test it alone)."""
        self._store = store
        self._interval = interval
        self._listener = (
            Listener(url, store.backend.channel, self._on_change)
            if listen and store.backend.channel
            else None
        )
        self._check_now = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Returns once listening: a write committed afterwards is never missed."""
        if self._listener is not None:
            await self._listener.start()
        self._task = asyncio.create_task(self._keep_checking(), name="offers revision check")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            await self._listener.close()

    def _on_change(self, payload: str) -> None:
        if not payload:
            # The listener reconnected: what was sent meanwhile is lost, so look now.
            self._check_now.set()
            return
        try:
            parent_segment_id, revision = parse_notification(payload)
        except (ValueError, TypeError) as exc:
            log.warning("ignoring a notification on the offers channel: %s", exc)
            self._check_now.set()
            return
        self._store.revisions.heard(parent_segment_id, revision)

    async def _keep_checking(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._check_now.wait()
            self._check_now.clear()
            try:
                async with asyncio.timeout(CHECK_TIMEOUT):
                    await self._store.check_revisions()
            except Exception as exc:  # the loop must outlive any one failure
                # The database is down, restarting or slow: keep serving what is compiled
                # and look again at the next interval. A loop that died here would leave
                # this replica serving stale personalizations for good.
                log.warning("cannot check the personalizations' revisions: %r", exc)
