"""The offers service process: personalizations, the personalize paths, preview."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import grpc
from p13n.offers.v1 import (
    internal_service_pb2,
    internal_service_pb2_grpc,
    personalization_config_service_pb2,
    personalize_service_pb2,
)
from p13n.profile.v1 import internal_service_pb2_grpc as profile_internal_pb2_grpc

from services.common import handlers
from services.common.access import Access, every_method
from services.common.callers import AUTH, GATEWAY, OFFERS, PROFILE, only, through_gateway
from services.common.clients import FAST_RECONNECT, Channels
from services.common.config import Settings
from services.common.in_process import InProcess
from services.common.main import run_service
from services.common.readiness import ServiceHealth
from services.common.server import Registration, RunningServer, serving_from
from services.offers.compiled_cache import CompiledCache
from services.offers.following import Follower
from services.offers.internal_service import InternalOffersServicer
from services.offers.personalization_service import PersonalizationServicer
from services.offers.personalize_service import PersonalizeServicer
from services.offers.profile_client import ProfileClient
from services.offers.store import PersonalizationStore

PERSONALIZE = "p13n.offers.v1.PersonalizeService"
CONFIG = "p13n.offers.v1.PersonalizationConfigService"
_INTERNAL = internal_service_pb2.DESCRIPTOR.services_by_name["InternalOffersService"]
INTERNAL = _INTERNAL.full_name

RULES: dict[str, Access] = {
    f"/{PERSONALIZE}/PublicPersonalize": Access.DATA,
    f"/{PERSONALIZE}/PrivatePersonalize": Access.DATA,
    f"/{PERSONALIZE}/PrivatePersonalizeHttp": Access.DATA,
    f"/{CONFIG}/GetPersonalization": Access.VIEWER,
    f"/{CONFIG}/ListPersonalizations": Access.VIEWER,
    f"/{CONFIG}/PreviewPersonalization": Access.VIEWER,
    f"/{CONFIG}/CreatePersonalization": Access.EDITOR,
    f"/{CONFIG}/UpdatePersonalization": Access.EDITOR,
    f"/{CONFIG}/DeletePersonalization": Access.EDITOR,
    **every_method(_INTERNAL, Access.INTERNAL),
}

# Which component may call each method (its certificate's name): everything comes through
# the gateway, except the references profile asks for before deleting what they name.
# An internal method not listed here is refused to every component.
CALLERS: dict[str, frozenset[str]] = {
    **through_gateway(RULES),
    # The browser path decided in the auth service (the single-process mode,
    # services/auth/public_path.py) hands the event on as the gateway would.
    f"/{PERSONALIZE}/PublicPersonalize": only(GATEWAY, AUTH),
    f"/{INTERNAL}/ListReferences": only(PROFILE),
    f"/{INTERNAL}/ListAuditEntries": only(AUTH),
}


@contextlib.asynccontextmanager
async def lifespan(
    settings: Settings,
    *,
    port: int | None = None,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    reported: ServiceHealth | None = None,
    in_process: InProcess | None = None,
) -> AsyncIterator[RunningServer]:
    """The offers service, serving for the block: store, channels, server.

    Each step is pushed on the stack as it is opened, so a failure at any step releases
    what came before it, in reverse; ``reported`` is the health ``run_service`` reports
    from before the first step; ``port`` (0 for any) and ``extra_interceptors`` are for
    tests; ``in_process`` names the services this process hosts (the single-process mode,
    ``services.single``), which are called there, not over the network.
    """
    async with contextlib.AsyncExitStack() as stack:
        store = await PersonalizationStore.open(settings)
        stack.push_async_callback(store.close)
        if settings.database_url is not None:
            # Other replicas write too: follow their revisions before serving anything.
            follower = Follower(store, settings.database_url)
            await follower.start()
            stack.push_async_callback(follower.close)
        # The data path fails fast when profile is down (no wait_for_ready), so it must
        # also notice quickly when it is back.
        channels = await stack.enter_async_context(
            Channels.of(settings, OFFERS, options=FAST_RECONNECT, in_process=in_process)
        )
        profile = ProfileClient(
            profile_internal_pb2_grpc.InternalProfileServiceStub(
                channels.get(settings.profile_target, PROFILE)
            ),
            settings.internal_key,
        )
        yield await stack.enter_async_context(
            serving_from(
                settings,
                registrations(store, profile),
                component=OFFERS,
                port=settings.offers_port if port is None else port,
                rules=RULES,
                callers=CALLERS,
                extra_interceptors=extra_interceptors,
                reported=reported,
                in_process=in_process,
            )
        )


def registrations(store: PersonalizationStore, profile: ProfileClient) -> list[Registration]:
    """The three servicers over one store; the personalize paths read it through one cache."""
    cache = CompiledCache(profile.realtime_config, store)
    return [
        Registration(
            # Registered by descriptor: the handlers answer bytes they encoded themselves,
            # in section order (services/offers/wire.py).
            handlers.register(
                personalize_service_pb2.DESCRIPTOR.services_by_name["PersonalizeService"]
            ),
            PersonalizeServicer(profile, cache),
            PERSONALIZE,
        ),
        Registration(
            handlers.register(
                personalization_config_service_pb2.DESCRIPTOR.services_by_name[
                    "PersonalizationConfigService"
                ]
            ),
            PersonalizationServicer(store, profile),
            CONFIG,
        ),
        Registration(
            internal_service_pb2_grpc.add_InternalOffersServiceServicer_to_server,
            InternalOffersServicer(store),
            INTERNAL,
        ),
    ]


def main() -> None:
    run_service("offers", lifespan)
