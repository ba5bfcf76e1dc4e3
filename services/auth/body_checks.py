"""Where the strict JSON check of a body runs: inline when small, in a worker when large.

The auth service answers every ext_authz call of the gateway on one event loop. Checking a
body is pure CPU: about 5 µs for a 300-byte event, but about half a second for 3 MB of
admin JSON or an ingest batch (up to 5 MiB) — during which no other request, on either
listener, could be decided, and any holder of a credential (a write-only key can sit in a
page) could stall the data plane with big bodies. So bodies over ``INLINE_BYTES`` are
checked in one worker process (``spawn``: a fork of a process holding gRPC runs gRPC's fork
handlers, see services/die_with_parent.py), one at a time.

What waits for it is bounded in bytes, so a body is checked within about two seconds of
arriving (the identity signed at its headers lives 3-4 s, and Envoy gives this phase 10 s):
``MAX_QUEUED_BYTES`` in all, and ``MAX_SHARE_BYTES`` for one account (or, without one, one
client address), so one tenant's big bodies cannot take every other tenant's turn. Beyond
either, a big body is refused with 429 and ``Retry-After``. The worker dies with the service
(``die_with_parent.guard``), and a worker that died is replaced on the next big body.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from services import die_with_parent
from services.auth import authz

# Events (at most 64 KiB) are always checked inline: the hot path takes no process hop.
INLINE_BYTES = 64 * 1024
# Bytes of big bodies being checked or waiting (the worker reads about 3 MB a second here).
MAX_QUEUED_BYTES = 8 * 1024 * 1024
# Of which one account (or client address) may hold: one 5 MiB body and some.
MAX_SHARE_BYTES = 6 * 1024 * 1024
TOO_MANY = "Too many large request bodies are being checked; retry shortly"

Pool = Callable[[], ProcessPoolExecutor]


def worker_pool() -> ProcessPoolExecutor:
    """One worker that stops when this process dies, even by SIGKILL."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent.guard,
        initargs=(os.getpid(),),
    )


class BodyChecks:
    """The body phase's decisions (``authz.decide_body``), big bodies off the event loop."""

    def __init__(self, make_pool: Pool | None) -> None:
        self._make_pool = make_pool
        self._pool = make_pool() if make_pool is not None else None
        self._turn = asyncio.Semaphore(1)
        self._queued = 0
        self._by_share: Counter[str] = Counter()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def warm_up(self) -> None:
        """Starts the worker and has it read the descriptors, in the background."""
        if self._pool is not None:
            self._pool.submit(authz.warm_up)

    async def decide(self, request: authz.Request, share: str) -> authz.Decision:
        """``share``: whose turn the body takes (an account, or a client address)."""
        size = len(request.body)
        if self._pool is None or size <= INLINE_BYTES:
            return authz.decide_body(request)
        if self._queued + size > MAX_QUEUED_BYTES or self._by_share[share] + size > MAX_SHARE_BYTES:
            return authz.too_many(TOO_MANY, 1.0)
        self._queued += size
        self._by_share[share] += size
        try:
            async with self._turn:
                return await self._in_worker(request)
        finally:
            self._queued -= size
            self._by_share[share] -= size
            if not self._by_share[share]:
                del self._by_share[share]

    async def _in_worker(self, request: authz.Request) -> authz.Decision:
        loop = asyncio.get_running_loop()
        assert self._pool is not None
        assert self._make_pool is not None
        try:
            return await loop.run_in_executor(self._pool, authz.decide_body, request)
        except BrokenProcessPool:  # the worker died (killed, out of memory): a new one
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._make_pool()
            return await loop.run_in_executor(self._pool, authz.decide_body, request)


@contextlib.asynccontextmanager
async def body_checks(make_pool: Pool = worker_pool) -> AsyncIterator[BodyChecks]:
    """The checker for the service's life; its worker warms up while the service starts."""
    checks = BodyChecks(make_pool)
    try:
        checks.warm_up()
        yield checks
    finally:
        checks.close()
