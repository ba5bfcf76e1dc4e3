"""A preflight that misses its table makes the event tables be looked up after it arrived.

Before, a miss while the periodic poll held the lock returned at once, and a miss within
0.5 s of the last look-up trusted it even if it had started before the table was defined:
a table defined a moment ago was refused ("Origin is not allowed for this path") on a
loaded machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.auth import directory as directory_module
from services.auth import secrets
from services.auth.directory import MemoryDirectory
from services.auth.store import open_store

Tables = dict[tuple[str, str], set[str]]


@pytest.fixture
async def directory(tmp_path: Path) -> AsyncIterator[MemoryDirectory]:
    store = await open_store(tmp_path)
    try:
        yield MemoryDirectory(store, secrets.SecretKeys(bytes(32)))
    finally:
        await store.close()


class _Profile:
    """The profile service's event tables, answering each look-up when released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[float] = []

    async def fetch(self, _budget: float, _patient: bool) -> Tables:
        self.started.append(asyncio.get_running_loop().time())
        await self.release.wait()
        return {("shop_db", "page_views"): {"1"}}


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_miss_waits_for_the_poll_in_flight_then_looks_up_again(
    directory: MemoryDirectory,
) -> None:
    profile = _Profile()
    poll = asyncio.create_task(directory.run_refresher(profile.fetch))
    await asyncio.sleep(0.02)  # the poll's look-up is in flight, holding the lock
    asked = asyncio.get_running_loop().time()
    preflights = [
        asyncio.create_task(directory.refresh_event_tables_for_preflight()) for _ in range(5)
    ]
    await asyncio.sleep(0.02)
    assert not any(p.done() for p in preflights)  # they wait rather than give up
    profile.release.set()
    await asyncio.wait_for(asyncio.gather(*preflights), 1.0)
    # The poll's, then one shared by all five, started after they arrived: a table defined
    # before the preflights is in it, even if the poll's started before the definition.
    assert len(profile.started) == 2
    assert profile.started[1] >= asked
    await _stop(poll)


async def test_a_miss_gives_up_within_its_budget(directory: MemoryDirectory) -> None:
    profile = _Profile()  # never released: the profile service hangs
    poll = asyncio.create_task(directory.run_refresher(profile.fetch))
    await asyncio.sleep(0.02)
    started = asyncio.get_running_loop().time()
    await directory.refresh_event_tables_for_preflight()
    waited = asyncio.get_running_loop().time() - started
    # Inside Envoy's 1 s ext_authz timeout, whatever the profile service does.
    assert waited < directory_module.PREFLIGHT_FETCH_SECONDS + 0.2
    await _stop(poll)


async def test_misses_in_a_row_are_spaced(directory: MemoryDirectory) -> None:
    profile = _Profile()
    profile.release.set()
    poll = asyncio.create_task(directory.run_refresher(profile.fetch))
    await asyncio.sleep(0.02)
    for _ in range(4):
        await directory.refresh_event_tables_for_preflight()
    gaps = [b - a for a, b in zip(profile.started, profile.started[1:], strict=False)]
    assert len(gaps) == 4
    assert min(gaps) >= directory_module.PREFLIGHT_MISS_SPACING_SECONDS * 0.9
    await _stop(poll)


async def test_a_look_up_that_failed_does_not_answer_a_miss(directory: MemoryDirectory) -> None:
    attempts = 0

    async def flaky(_budget: float, _patient: bool) -> Tables:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.03)
        if attempts == 2:  # the first preflight's look-up
            raise ConnectionError("profile restarting")
        return {("shop_db", "page_views"): {"1"}}

    poll = asyncio.create_task(directory.run_refresher(flaky))
    await asyncio.sleep(0.01)  # the poll's look-up is in flight
    # Both arrive before the first preflight's look-up starts; it fails, so the second
    # must not take it as its answer.
    await asyncio.gather(*(directory.refresh_event_tables_for_preflight() for _ in range(2)))
    assert attempts == 3
    await _stop(poll)
