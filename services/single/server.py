"""Profile and offers in one process, calling each other without gRPC.

"One binary, many targets" (Grafana Mimir's and Loki's ``-target=all``): the two services
of the data path run as they always do, each with its own store, port, rules and
interceptors, in one process and on one event loop; what changes is that offers' calls to
profile (``Track`` on every event, ``GetRealtimeConfig``) and profile's to offers
(``ListReferences``) go through ``services.common.in_process`` instead of the network.
Envoy, auth and the CLI still reach each service on its port. `p13n up --single-process`
runs it beside the auth process; a service per process stays the Kubernetes default
(docs/decisions.md, "Single-process mode").

Auth is not hosted here: it answers Envoy's ext_authz for every request, and sharing this
process's interpreter lock would cap the data path at one core for all three
(docs/performance.md measures both).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import grpc

from services.common.callers import OFFERS, PROFILE
from services.common.config import ConfigError, Settings
from services.common.in_process import InProcess
from services.common.main import run_service
from services.common.readiness import ServiceHealth
from services.common.server import RunningServer
from services.offers.server import lifespan as offers_lifespan
from services.profile.server import lifespan as profile_lifespan

COMPONENTS = frozenset({PROFILE, OFFERS})


@dataclass(frozen=True)
class RunningTogether:
    """The servers of this process; the drain turns the readiness of each off."""

    profile: RunningServer
    offers: RunningServer

    async def set_serving(self, serving: bool) -> None:
        await self.profile.set_serving(serving)
        await self.offers.set_serving(serving)


@contextlib.asynccontextmanager
async def lifespan(
    settings: Settings,
    *,
    reported: ServiceHealth | None = None,  # noqa: ARG001 (each server reports its own)
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> AsyncIterator[RunningTogether]:
    """Profile, then offers, serving for the block; left in reverse (offers stops first,
    so no call of its reaches a profile that has stopped).

    Each server reports its own health on its port, where `p13n up` and Envoy ask; the
    plaintext health port is for one service per process (Kubernetes) and is refused here.
    """
    if settings.health_port is not None:
        raise ConfigError(
            "P13N_HEALTH_PORT is for one service per process (Kubernetes); in the "
            "single-process mode each service reports its health on its own port"
        )
    in_process = InProcess(COMPONENTS)
    async with (
        profile_lifespan(
            settings, extra_interceptors=extra_interceptors, in_process=in_process
        ) as profile,
        offers_lifespan(
            settings, extra_interceptors=extra_interceptors, in_process=in_process
        ) as offers,
    ):
        yield RunningTogether(profile, offers)


def main() -> None:
    run_service("single", lifespan)
