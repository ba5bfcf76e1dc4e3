"""Runs a grpc.aio server the same way for every service.

Health is reported per fully qualified service name, for the service as a whole under
``p13n.<service>`` (readiness) and for the process under "" (liveness), as
``services.common.readiness`` explains; reflection is on so ``grpcurl`` works. ``serving``
is the server as one step of a service's lifespan (``services.common.lifecycle``): entered,
it listens and reports ready; left, it reports not ready and ``stop(grace)`` lets calls in
flight finish.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import access, tls
from services.common.callers import Callers
from services.common.config import Settings
from services.common.in_process import InProcess
from services.common.interceptor import ServiceInterceptor
from services.common.readiness import ServiceHealth, reporting

log = logging.getLogger(__name__)

# Bodies up to the Ingest API's 5 MiB limit plus framing must fit in one message.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
# Request metadata a server accepts: twice the gateway's header limit (max_request_headers_kb,
# 32 KiB) with room for what Envoy adds, so the gateway's 431 is the one header limit. gRPC's
# defaults (a soft 8 KiB, a hard 16 KiB) answered 16-60 KiB headers RESOURCE_EXHAUSTED.
MAX_METADATA_BYTES = 64 * 1024
# How long a client's connection lives before the server asks it (GOAWAY) to open a new
# one. A balanced channel to a headless Service's name (services.common.replicas) resolves
# the name again when a connection ends, and gRPC's DNS resolver does not otherwise: pods
# added by a scale-up would get none of the other services' calls until something broke.
# Calls in flight are never cut (the grace stays gRPC's default, unlimited); gRPC adds
# +-10% jitter so the clients do not all reconnect at once. The resolver waits at least
# 30 s between resolutions, so a new pod is found within about one to two minutes.
MAX_CONNECTION_AGE_MS = 60_000


@dataclass(frozen=True)
class Registration:
    """One business servicer: how to add it, and its fully qualified name."""

    add: Callable[[Any, grpc.aio.Server], None]
    servicer: Any
    name: str


@dataclass
class RunningServer:
    """A started server with the health that reports it."""

    server: grpc.aio.Server
    port: int
    reported: ServiceHealth
    # As the server applies them, first outermost; calls in this process use them too.
    interceptors: tuple[grpc.aio.ServerInterceptor, ...] = ()

    @property
    def health(self) -> health.aio.HealthServicer:
        return self.reported.servicer

    @property
    def names(self) -> tuple[str, ...]:
        """The readiness names: ``p13n.<service>`` (if any) and every servicer's."""
        return self.reported.names

    async def set_serving(self, serving: bool) -> None:
        """Readiness: whether calls should come here. Liveness ("") is left as it is."""
        await self.reported.set_ready(serving)

    async def stop(self, grace: float) -> None:
        """Reports not ready and stops; calls in flight get ``grace`` seconds to finish;
        then liveness turns NOT_SERVING too.

        Stopping again does nothing more, so a test may stop a server at once (grace 0)
        before its lifespan ends and stops it with the configured grace.
        """
        await self.set_serving(False)
        log.info("stopping (grace %.1fs)", grace)
        await self.server.stop(grace)
        await self.reported.stopped()


@contextlib.asynccontextmanager
async def serving(
    registrations: Sequence[Registration],
    *,
    host: str,
    port: int,
    key: bytes,
    rules: Mapping[str, access.Access],
    callers: Callers,
    credentials: grpc.ServerCredentials | None,
    grace: float,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    reported: ServiceHealth | None = None,
) -> AsyncIterator[RunningServer]:
    """Serves on ``host:port`` (0 picks a free port), ready until the block ends.

    ``reported`` is the service's health, alive since before its start-up
    (``services.common.readiness``); without it the server reports under its servicers'
    names and "" alone.

    With ``credentials`` (mutual TLS) each call's component is checked against
    ``callers``; without (the benchmark's loopback comparison only) nothing names it.

    Binding is the last thing before ``start``: grpc.aio releases a bound port only by
    stopping a started server (an unstarted one keeps listening until the process exits),
    so nothing that can fail may come between the two.
    """
    interceptors = (
        *extra_interceptors,
        ServiceInterceptor(rules, key, callers if credentials else None),
    )
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.max_connection_age_ms", MAX_CONNECTION_AGE_MS),
        ],
    )
    for registration in registrations:
        registration.add(registration.servicer, server)
    if reported is None:
        reported = ServiceHealth()
        await reported.alive()
    names = tuple(r.name for r in registrations)
    reported.add(names)
    await reported.set_ready(False)
    health_pb2_grpc.add_HealthServicer_to_server(reported.servicer, server)
    reflection.enable_server_reflection(
        (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    address = f"{host}:{port}"
    try:
        bound = (
            server.add_secure_port(address, credentials)
            if credentials
            else server.add_insecure_port(address)
        )
    except RuntimeError as error:  # grpc's answer when the port is taken
        raise OSError(f"cannot listen on {address}") from error
    if bound == 0:  # the same answer from older grpc releases
        raise OSError(f"cannot listen on {address}")
    try:
        await server.start()
    except BaseException:
        # The port is bound already; a server that never started keeps it open.
        await server.stop(0)
        raise
    running = RunningServer(server, bound, reported, interceptors)
    try:
        await running.set_serving(True)
        log.info("serving on port %s", bound)
        yield running
    finally:
        await running.stop(grace)


@contextlib.asynccontextmanager
async def serving_from(
    settings: Settings,
    registrations: Sequence[Registration],
    *,
    component: str,
    port: int,
    rules: Mapping[str, access.Access],
    callers: Callers,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    reported: ServiceHealth | None = None,
    in_process: InProcess | None = None,
) -> AsyncIterator[RunningServer]:
    """``serving`` as a service runs it: bind host, internal key, grace and the
    component's certificate from ``settings``, and the plaintext health port if set.

    ``reported``: the health ``services.common.main.run_service`` started before the
    lifespan (its health port already listening); without it (tests) it starts here.
    With ``in_process`` (the single-process mode) the servicers also answer the calls
    of the other services of this process, while the server serves.
    """
    async with contextlib.AsyncExitStack() as stack:
        if reported is None:
            reported = await stack.enter_async_context(reporting(settings, component))
        running = await stack.enter_async_context(
            serving(
                registrations,
                host=settings.bind_host,
                port=port,
                key=settings.internal_key,
                rules=rules,
                callers=callers,
                credentials=(
                    tls.server_credentials(settings.tls_dir(component))
                    if settings.internal_tls
                    else None
                ),
                grace=settings.shutdown_grace,
                extra_interceptors=extra_interceptors,
                reported=reported,
            )
        )
        if in_process is not None and component in in_process.components:
            stack.enter_context(in_process.hosting(component, registrations, running.interceptors))
        yield running
