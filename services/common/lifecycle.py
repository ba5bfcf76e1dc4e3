"""A service's life: its resources opened in order and released in reverse, then a drain.

Each service states its resources as one async context manager (its ``lifespan``), built on
a ``contextlib.AsyncExitStack``: every resource is pushed on the stack the moment it is
opened, so a failure at any step of start-up releases exactly what was opened so far, in
reverse, and so does the end of a normal run. The models are starlette's lifespan and
grpc's ``async_greeter_server_with_graceful_shutdown.py``.

Shutdown has three phases. On SIGTERM or SIGINT readiness (``p13n.<service>``) turns
NOT_SERVING while liveness ("") stays SERVING; then, for the drain delay, the server keeps
answering everything (calls in flight and new ones) while whoever balances across it (a
Kubernetes readiness probe, Envoy's health checks, the services' balanced channels)
notices and stops sending; then the lifespan ends, which stops the server with its grace
and releases the rest. A second signal cuts the drain short: an operator pressing Ctrl-C
twice means "now".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from services.common.config import Settings
from services.common.readiness import ServiceHealth

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Serving(Protocol):
    """What a lifespan yields: a server (``RunningServer``), or the servers of one process
    (``services.single``), whose readiness the drain turns off."""

    async def set_serving(self, serving: bool) -> None: ...


class Lifespan(Protocol):
    """What each service exposes: its resources, entered by ``run_service`` with the health
    it reports from before the first step (``services.common.readiness``), and by tests
    (which pass a port, 0 for any, and interceptors of their own)."""

    def __call__(
        self, settings: Settings, *, reported: ServiceHealth | None = None
    ) -> AbstractAsyncContextManager[Serving]: ...


@contextlib.asynccontextmanager
async def background(
    name: str, work: Callable[[], Coroutine[Any, Any, None]]
) -> AsyncIterator[asyncio.Task[None]]:
    """Runs ``work()`` as a task for the block; on leaving, cancels it and waits for it.

    ``work`` is called only on entry, so a step that fails before this one leaves no
    coroutine that was never awaited.
    """
    task = asyncio.create_task(work(), name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def drain(running: Serving, seconds: float, cut_short: asyncio.Event) -> None:
    """Reports not ready, then keeps serving for ``seconds`` or until ``cut_short`` is set."""
    await running.set_serving(False)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(cut_short.wait(), seconds)


class ShutdownSignals:
    """SIGTERM and SIGINT as two events: the first asks for a drain, the second cuts it short.

    Installed before start-up, so that a signal arriving while the service starts (say, a
    pod deleted as it starts) is not the default action, which kills the process without a
    drain, but a request to drain as soon as the service is serving.
    """

    def __init__(self) -> None:
        self.first = asyncio.Event()
        self.second = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on_signal(self) -> None:
        (self.second if self.first.is_set() else self.first).set()

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            self._loop.add_signal_handler(sig, self._on_signal)

    def uninstall(self) -> None:
        """Gives the signals back their default effect; safe to call more than once."""
        if self._loop is not None:
            for sig in SIGNALS:
                self._loop.remove_signal_handler(sig)
            self._loop = None

    def __enter__(self) -> ShutdownSignals:
        self.install()
        return self

    def __exit__(self, *_: object) -> None:
        self.uninstall()


async def serve_until_signalled(
    running: Serving,
    drain_seconds: float,
    settled: Callable[[], None] | None = None,
    signals: ShutdownSignals | None = None,
) -> None:
    """Serves until SIGTERM or SIGINT, then drains; the caller's lifespan then stops it.

    ``signals`` are the handlers the caller installed before start-up (installed here when
    not given). ``settled`` runs once they are in place, so that a signal arriving while it
    runs still shuts the server down gracefully. The handlers are removed on return: a
    signal during the final ``stop(grace)`` then has its default effect, which is what a
    third Ctrl-C asks for.
    """
    if signals is None:
        signals = ShutdownSignals()
        signals.install()
    try:
        if settled is not None:
            settled()
        await signals.first.wait()
        log.info("shutting down: NOT_SERVING, draining for %.1fs", drain_seconds)
        await drain(running, drain_seconds, cut_short=signals.second)
        if signals.second.is_set():
            log.info("a second signal cut the drain short")
    finally:
        signals.uninstall()
