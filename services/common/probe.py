"""A plaintext port that answers only ``grpc.health.v1``: Kubernetes' probes' way in.

The kubelet's gRPC probe speaks no TLS, and the service port requires a client
certificate. This second listener (``P13N_HEALTH_PORT``, off unless set, as in deploy/)
serves the same health servicer and nothing else: no business method, no reflection, so
it reveals only SERVING or NOT_SERVING. It listens before the service opens its store and
stops after its server stopped (``services.common.readiness.reporting``), so the probes
are answered through a slow start and throughout the drain.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health, health_pb2_grpc


@contextlib.asynccontextmanager
async def health_port(
    servicer: health.aio.HealthServicer, host: str, port: int
) -> AsyncIterator[int]:
    """Serves ``servicer`` alone on ``host:port`` for the block; yields the bound port."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:  # grpc's answer when the port is taken
        raise OSError(f"cannot listen on {address}") from error
    await server.start()
    try:
        yield bound
    finally:
        await server.stop(0)
