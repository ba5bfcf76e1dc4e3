"""The whole suite for end-to-end tests: services in a background event loop, a real Envoy.

The services run in this process so a test can see what reached them (every call's method
and metadata is recorded) and can stop and restart one; Envoy is the real binary.

``P13N_SINGLE_PROCESS=1`` (the setting `p13n up --single-process` reads too) runs every
suite in the single-process mode (``services.single``): the services call each other in
process, the gateway lets auth decide a browser's event as it serves it, and stopping any
of them stops all three, as the death of their one process would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from gateway.render import GatewayConfig, write
from services.auth.server import lifespan as auth_lifespan
from services.common import pki, tls
from services.common.clients import open_channel
from services.common.config import Settings
from services.common.in_process import InProcess
from services.common.server import RunningServer
from services.offers.server import lifespan as offers_lifespan
from services.profile.server import lifespan as profile_lifespan
from services.single.server import COMPONENTS, START_ORDER
from support.ports import free_port, wait_open
from support.tls import component_channel

T = TypeVar("T")

LIFESPANS = {"auth": auth_lifespan, "profile": profile_lifespan, "offers": offers_lifespan}


def single_process() -> bool:
    """Whether this run's suites run the three services in one process (as click reads
    the flag's environment variable)."""
    return os.environ.get("P13N_SINGLE_PROCESS", "").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Call:
    method: str
    metadata: dict[str, str]


class Recorder(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Remembers every call that reached a service."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        metadata = {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}
        self.calls.append(Call(details.method, metadata))
        return await continuation(details)


def suite_env(data_dir: Path) -> dict[str, str]:
    """Environment for a suite on free ports with its own data directory and keys."""
    return {
        "P13N_DATA_DIR": str(data_dir),
        "P13N_AUTH_PORT": str(free_port()),
        "P13N_PROFILE_PORT": str(free_port()),
        "P13N_OFFERS_PORT": str(free_port()),
        "P13N_DATA_PORT": str(free_port()),
        "P13N_ADMIN_PORT": str(free_port()),
        "P13N_ENVOY_ADMIN_PORT": str(free_port()),
        "P13N_INTERNAL_KEY": os.urandom(32).hex(),
        "P13N_SECRET_KEY": os.urandom(32).hex(),
        "P13N_SHUTDOWN_GRACE": "0.5",
        # As `p13n up` runs them (it stops Envoy before the services).
        "P13N_DRAIN_SECONDS": "0",
    }


class Suite:
    """Start with ``start()``; ``close()`` stops everything."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, single: bool | None = None
    ) -> None:
        self.env = suite_env(data_dir) | (env or {})
        self.settings = Settings.from_env(self.env)
        # As `p13n up` does on first start: the CA and one certificate per component.
        pki.ensure(self.settings.pki_dir)
        self.recorders = {name: Recorder() for name in LIFESPANS}
        self._servers: dict[str, tuple[RunningServer, contextlib.AsyncExitStack]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._envoy: subprocess.Popen[bytes] | None = None
        # The services that call each other in process (the single-process mode), if any.
        # ``single`` chooses the mode for this suite alone (default: the run's).
        self.single = single_process() if single is None else single
        self.in_process = InProcess(COMPONENTS) if self.single else None

    @property
    def data_port(self) -> int:
        return self.settings.data_port

    @property
    def admin_port(self) -> int:
        return self.settings.admin_port

    @property
    def envoy_pid(self) -> int:
        assert self._envoy is not None, "Envoy is not started"
        return self._envoy.pid

    def port_of(self, name: str) -> int:
        return int(getattr(self.settings, f"{name}_port"))

    def channel(self, service: str, caller: str = "gateway") -> grpc.Channel:
        """A blocking channel to ``service``'s port with ``caller``'s certificate."""
        return component_channel(self.settings, caller, self.port_of(service), service)

    def aio_channel(self, service: str, caller: str = "gateway") -> grpc.aio.Channel:
        """An asyncio channel to ``service``'s port with ``caller``'s certificate."""
        return open_channel(
            f"127.0.0.1:{self.port_of(service)}",
            service,
            tls.channel_credentials(self.settings.tls_dir(caller)),
        )

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Runs a coroutine on the suite's loop and returns its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def start(self) -> None:
        self._thread.start()
        for name in LIFESPANS:
            self.start_service(name)
        config = self.settings.data_dir / "envoy.json"
        write(self.gateway_config(), config)
        envoy = str(Path(sys.executable).with_name("envoy"))
        self._envoy = subprocess.Popen(
            [
                envoy,
                "-c",
                str(config),
                "--log-level",
                "error",
                "--concurrency",
                "1",
                "--disable-hot-restart",
                *self.envoy_args(),
            ],
            start_new_session=True,
        )
        wait_open(self.data_port)
        wait_open(self.admin_port)

    def gateway_config(self) -> GatewayConfig:
        return GatewayConfig.on_one_machine(self.settings, single_process=self.single)

    def envoy_args(self) -> list[str]:
        """Options added to Envoy's command line (``--drain-time-s``...)."""
        return []

    def start_service(self, name: str) -> None:
        """Starts a service; in the single-process mode the three start together (their
        process), each once, in the process's order (auth last)."""
        for each in self._process_of(name):
            if each not in self._servers:
                self._start_one(each)

    def _start_one(self, name: str) -> None:
        async def start() -> tuple[RunningServer, contextlib.AsyncExitStack]:
            # Held open across calls of ``run``; ``stop_service`` leaves it.
            stack = contextlib.AsyncExitStack()
            lifespan = LIFESPANS[name](
                self.settings, extra_interceptors=[self.recorders[name]], in_process=self.in_process
            )
            return await stack.enter_async_context(lifespan), stack

        self._servers[name] = self.run(start())

    def _process_of(self, name: str) -> list[str]:
        """The services that live and die with ``name``, in start order."""
        if self.in_process is not None and name in COMPONENTS:
            return list(START_ORDER)
        return [name]

    def stop_service(self, name: str) -> None:
        """Stops a service at once (an outage: calls in flight are cut), then releases it;
        in the single-process mode the three stop together (auth first)."""
        for each in reversed(self._process_of(name)):
            if each in self._servers:
                self._stop_one(each)

    def _stop_one(self, name: str) -> None:
        running, stack = self._servers.pop(name)

        async def stop() -> None:
            await running.stop(0)
            await stack.aclose()

        self.run(stop())

    def close(self) -> None:
        if self._envoy is not None:
            self._envoy.terminate()
            self._envoy.wait(10)
        for name in reversed(list(self._servers)):
            self.stop_service(name)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()  # its selector and self-pipe sockets; raises if it did not stop
