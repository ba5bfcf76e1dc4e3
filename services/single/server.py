"""Auth, profile and offers in one process, calling each other without gRPC.

"One binary, many targets" (Grafana Mimir's and Loki's ``-target=all``): the three services
run as they always do, each with its own store, port, rules and interceptors, in one
process and on one event loop. What changes:

- the calls between them (offers' ``Track`` and ``GetRealtimeConfig`` to profile on every
  event, profile's and auth's calls to each other and to offers) go through
  ``services.common.in_process`` instead of the network;
- the gateway hands a browser's event to auth without asking ext_authz first, as HTTP/1.1
  on a Unix socket (``gateway/public_path.py``, ``services/auth/browser_socket.py``): auth
  makes the same decision as it serves the event and hands it to offers in process
  (``services/auth/public_path.py``). Envoy makes one call per event instead of two, and
  no gRPC call at all.

Envoy, the CLI and the tests still reach each service on its port. `p13n up
--single-process` runs it beside Envoy; a service per process stays the Kubernetes default
(docs/decisions.md, "Single-process mode").
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import grpc

from services.auth.server import lifespan as auth_lifespan
from services.common.callers import AUTH, OFFERS, PROFILE
from services.common.config import ConfigError, Settings
from services.common.in_process import InProcess
from services.common.main import run_service
from services.common.readiness import ServiceHealth
from services.common.server import RunningServer
from services.offers.server import lifespan as offers_lifespan
from services.profile.server import lifespan as profile_lifespan

# In start order: auth, the gateway's door, opens last (``lifespan``).
START_ORDER = (PROFILE, OFFERS, AUTH)
COMPONENTS = frozenset(START_ORDER)
LIFESPANS = {PROFILE: profile_lifespan, OFFERS: offers_lifespan, AUTH: auth_lifespan}


@dataclass(frozen=True)
class RunningTogether:
    """The servers of this process; the drain turns the readiness of each off."""

    servers: tuple[RunningServer, ...]

    async def set_serving(self, serving: bool) -> None:
        for server in self.servers:
            await server.set_serving(serving)


@contextlib.asynccontextmanager
async def lifespan(
    settings: Settings,
    *,
    reported: ServiceHealth | None = None,  # noqa: ARG001 (each server reports its own)
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> AsyncIterator[RunningTogether]:
    """Profile, offers, then auth, serving for the block; left in reverse. Auth answers
    the gateway's door (ext_authz, and the browser path it decides itself), so it opens
    last and closes first: no request through the gateway reaches a service of this
    process that is not serving yet, or any more.

    Each server reports its own health on its port, where `p13n up` and Envoy ask; the
    plaintext health port is for one service per process (Kubernetes) and is refused here.
    """
    if settings.health_port is not None:
        raise ConfigError(
            "P13N_HEALTH_PORT is for one service per process (Kubernetes); in the "
            "single-process mode each service reports its health on its own port"
        )
    in_process = InProcess(COMPONENTS)
    async with contextlib.AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(
                each(settings, extra_interceptors=extra_interceptors, in_process=in_process)
            )
            for each in (LIFESPANS[name] for name in START_ORDER)
        ]
        yield RunningTogether(tuple(servers))


def main() -> None:
    run_service("single", lifespan)
