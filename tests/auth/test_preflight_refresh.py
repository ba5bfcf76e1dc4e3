"""A preflight that misses its table waits for the event-table poll already in flight.

Before, a miss while the periodic poll held the lock returned at once, and a table defined a
moment ago was refused ("Origin is not allowed for this path") on a loaded machine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.auth import directory as directory_module
from services.auth import secrets
from services.auth.directory import MemoryDirectory
from services.auth.store import open_store


async def test_a_preflight_miss_waits_for_the_poll_in_flight(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        directory = MemoryDirectory(store, secrets.SecretKeys(bytes(32)))
        release = asyncio.Event()
        fetches = 0

        async def slow_fetch(_budget: float, _patient: bool) -> dict[tuple[str, str], set[str]]:
            nonlocal fetches
            fetches += 1
            await release.wait()
            return {("shop_db", "page_views"): {"1"}}

        poll = asyncio.create_task(directory.run_refresher(slow_fetch))
        await asyncio.sleep(0.05)  # the poll's fetch is now in flight, holding the lock
        preflight = asyncio.create_task(directory.refresh_event_tables_for_preflight())
        await asyncio.sleep(0.05)
        assert not preflight.done()  # it waits rather than giving up
        release.set()
        await asyncio.wait_for(preflight, 1.0)
        assert fetches == 1  # the poll's fresh answer settled it: no second look-up
        poll.cancel()
        await asyncio.gather(poll, return_exceptions=True)
    finally:
        await store.close()


async def test_a_preflight_miss_gives_up_within_its_budget(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        directory = MemoryDirectory(store, secrets.SecretKeys(bytes(32)))

        async def stuck_fetch(_budget: float, _patient: bool) -> dict[tuple[str, str], set[str]]:
            await asyncio.Event().wait()
            return {}

        poll = asyncio.create_task(directory.run_refresher(stuck_fetch))
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        await directory.refresh_event_tables_for_preflight()
        waited = asyncio.get_running_loop().time() - started
        # Inside Envoy's 1 s ext_authz timeout, whatever the profile service does.
        assert waited < directory_module.PREFLIGHT_FETCH_SECONDS + 0.2
        poll.cancel()
        await asyncio.gather(poll, return_exceptions=True)
    finally:
        await store.close()
