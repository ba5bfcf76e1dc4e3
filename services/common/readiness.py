"""What a service's health says: liveness under ``""``, readiness under ``p13n.<service>``.

Kubernetes asks two questions and they have different answers during a drain:

- **Liveness** (``""``): is the process alive? SERVING from the moment health is reported
  (before the store opens, so a slow start, e.g. PostgreSQL migrations, is not a dead
  process) until the server has stopped, the drain included: a draining pod is healthy,
  and a liveness probe that failed then would restart it instead of letting it finish.
- **Readiness** (``p13n.auth`` / ``p13n.profile`` / ``p13n.offers``, and with it each
  servicer's own fully qualified name): should calls come here? NOT_SERVING until the
  server listens, SERVING while it serves, NOT_SERVING again from the first shutdown signal
  on. Everything that balances across replicas asks this name: the kubelet's readiness and
  startup probes (deploy/), Envoy's active health checks (``gateway.balancing``), the
  services' own balanced channels (``services.common.replicas``) and ``p13n up``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

from grpc_health.v1 import health, health_pb2

from services.common.config import Settings
from services.common.probe import health_port

LIVENESS = ""
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def readiness_name(component: str) -> str:
    """The health service name that says whether ``component`` takes calls now."""
    return f"p13n.{component}"


class ServiceHealth:
    """One health servicer and the names it reports: ``""`` and the readiness names.

    ``readiness`` is ``p13n.<component>`` for a service; a bare server (tests) has none.
    The servicers' own names join when the server registers them, and follow readiness.
    """

    def __init__(self, readiness: str | None = None) -> None:
        self.servicer = health.aio.HealthServicer()
        self.names: tuple[str, ...] = (readiness,) if readiness else ()

    @classmethod
    def of(cls, component: str) -> ServiceHealth:
        return cls(readiness_name(component))

    def add(self, names: Iterable[str]) -> None:
        self.names = (*self.names, *names)

    async def alive(self) -> None:
        """Liveness SERVING, readiness NOT_SERVING: started, not yet taking calls."""
        await self.servicer.set(LIVENESS, SERVING)
        await self.set_ready(False)

    async def set_ready(self, ready: bool) -> None:
        # In order: a watcher of the last name knows every name has turned.
        for name in self.names:
            await self.servicer.set(name, SERVING if ready else NOT_SERVING)

    async def stopped(self) -> None:
        """Every name NOT_SERVING: the server no longer serves."""
        await self.set_ready(False)
        await self.servicer.set(LIVENESS, NOT_SERVING)


@contextlib.asynccontextmanager
async def reporting(settings: Settings, component: str) -> AsyncIterator[ServiceHealth]:
    """``component``'s health, alive for the block, on the plaintext health port if set.

    Entered before the service opens anything, so the kubelet's startup probe finds the
    health port answering NOT_SERVING (not refusing) while the store opens or migrates;
    left after the server stopped, so the probes see NOT_SERVING throughout the drain.
    """
    reported = ServiceHealth.of(component)
    await reported.alive()
    async with contextlib.AsyncExitStack() as stack:
        if settings.health_port is not None:
            await stack.enter_async_context(
                health_port(reported.servicer, settings.bind_host, settings.health_port)
            )
        yield reported
