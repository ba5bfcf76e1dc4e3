"""Where the strict JSON check of a body runs: inline when small, in a worker when large.

The auth service answers every ext_authz call of the gateway on one event loop. Checking a
body is pure CPU: about 5 µs for a 300-byte event, but about half a second for 3 MB of
admin JSON or an ingest batch (up to 5 MiB) — during which no other request, on either
listener, could be decided, and any holder of a credential (a write-only key can sit in a
page) could stall the data plane with big bodies. So bodies over ``INLINE_BYTES`` are
checked in one worker process (``spawn``: a fork of a process holding gRPC runs gRPC's fork
handlers, see services/die_with_parent.py), one at a time, with a bounded queue: beyond it a
big body is refused with 429 and ``Retry-After`` rather than queued without end. The
gateway gives this phase a longer timeout than the headers phase (gateway/envoy.yaml.tmpl).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor

from services.auth import authz

# Events (at most 64 KiB) are always checked inline: the hot path takes no process hop.
INLINE_BYTES = 64 * 1024
# Big bodies waiting for the worker beyond the one it checks; more are refused.
MAX_WAITING = 8
TOO_MANY = "Too many large request bodies are being checked; retry shortly"


class BodyChecks:
    """The body phase's decisions (``authz.decide_body``), big bodies off the event loop."""

    def __init__(self, pool: ProcessPoolExecutor | None) -> None:
        self._pool = pool
        self._turn = asyncio.Semaphore(1)
        self._waiting = 0

    async def decide(self, request: authz.Request) -> authz.Decision:
        if self._pool is None or len(request.body) <= INLINE_BYTES:
            return authz.decide_body(request)
        if self._waiting >= MAX_WAITING:
            return authz.too_many(TOO_MANY, 1.0)
        self._waiting += 1
        try:
            async with self._turn:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, authz.decide_body, request)
        finally:
            self._waiting -= 1


@contextlib.asynccontextmanager
async def body_checks() -> AsyncIterator[BodyChecks]:
    """A worker process for the service's life, warming up while the service starts."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        # Starting the interpreter and reading the descriptors takes a second of CPU: begun
        # now, in the background, so neither the service's start nor a request waits for it.
        pool.submit(authz.warm_up)
        yield BodyChecks(pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
