"""Runs a grpc.aio server the same way for every service.

Health is reported per fully qualified service name (and for the whole server under "");
reflection is on so ``grpcurl`` works; on SIGTERM or SIGINT health turns NOT_SERVING first,
so that balancers stop sending, then ``stop(grace)`` lets calls in flight finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import access
from services.common.interceptor import ServiceInterceptor

log = logging.getLogger(__name__)

# Bodies up to the Ingest API's 5 MiB limit plus framing must fit in one message.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Registration:
    """One business servicer: how to add it, and its fully qualified name."""

    add: Callable[[Any, grpc.aio.Server], None]
    servicer: Any
    name: str


@dataclass
class RunningServer:
    """A started server with the health servicer that reports it."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    names: tuple[str, ...]

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.names):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        await self.set_serving(False)
        await self.server.stop(grace)


async def start_server(
    registrations: Sequence[Registration],
    *,
    host: str,
    port: int,
    key: bytes,
    rules: Mapping[str, access.Access],
    direct: access.DirectAuthenticator | None = None,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> RunningServer:
    """Starts a server on ``host:port`` (0 picks a free port) and marks it SERVING."""
    server = grpc.aio.server(
        interceptors=[*extra_interceptors, ServiceInterceptor(rules, key, direct)],
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    for registration in registrations:
        registration.add(registration.servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(r.name for r in registrations)
    reflection.enable_server_reflection(
        (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    await server.start()
    running = RunningServer(server, bound, health_servicer, names)
    await running.set_serving(True)
    return running


async def serve_until_signalled(
    running: RunningServer, grace: float, settled: Callable[[], None] | None = None
) -> None:
    """Serves until SIGTERM or SIGINT, then shuts down gracefully.

    ``settled`` runs once the signal handlers are in place, so that a signal arriving
    while it runs still shuts the server down gracefully.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if settled is not None:
        settled()
    log.info("serving on port %s", running.port)
    await stop.wait()
    log.info("shutting down (grace %.1fs)", grace)
    await running.stop(grace)
