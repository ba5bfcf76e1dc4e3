"""Losing PostgreSQL notifications on purpose: end the listening sessions, and hold their
reconnects back, so a write is certain to happen while no one listens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from services.common.postgres import Listener


async def terminate_listeners(url: str, channel: str) -> int:
    """Ends every server session listening on ``channel``; how many there were."""
    conn = await asyncpg.connect(url)
    try:
        ended: int = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query = $1",
            f'LISTEN "{channel}"',
        )
        return ended
    finally:
        await conn.close()


class HeldReconnects:
    """Every ``Listener`` that loses its connection waits here before reconnecting."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.waiting = 0
        self._release = asyncio.Event()
        self._changed = asyncio.Event()
        # The reconnect step itself is what must wait: there is no public seam for it.
        original: Callable[[Listener], Awaitable[Any]] = Listener._reconnect  # noqa: SLF001

        async def held(listener: Listener) -> Any:
            self.waiting += 1
            self._changed.set()
            await self._release.wait()
            return await original(listener)

        monkeypatch.setattr(Listener, "_reconnect", held)

    async def until_waiting(self, count: int) -> None:
        """Returns once ``count`` listeners know they lost their connection."""
        async with asyncio.timeout(5):
            while self.waiting < count:
                self._changed.clear()
                await self._changed.wait()

    def release(self) -> None:
        self._release.set()
