"""The profile service process: configuration, events, stitching, attributes, imports, ingest."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence

import grpc
from p13n.auth.v1 import internal_service_pb2_grpc
from p13n.offers.v1 import internal_service_pb2_grpc as offers_internal_pb2_grpc
from p13n.profile.v1 import (
    config_service_pb2,
    config_service_pb2_grpc,
    ingest_service_pb2_grpc,
    profile_service_pb2_grpc,
)
from p13n.profile.v1 import internal_service_pb2 as profile_internal_pb2
from p13n.profile.v1 import internal_service_pb2_grpc as profile_internal_pb2_grpc

from services.common import audit
from services.common.access import Access, every_method
from services.common.callers import AUTH, GATEWAY, OFFERS, only, through_gateway
from services.common.callers import PROFILE as PROFILE_COMPONENT
from services.common.clients import Channels
from services.common.config import Settings
from services.common.in_process import InProcess
from services.common.main import run_service
from services.common.readiness import ServiceHealth
from services.common.server import Registration, RunningServer, serving_from
from services.profile import backends
from services.profile.auth_client import AuthClient
from services.profile.config_service import ConfigServicer, FlagsLookup, ReferencesLookup
from services.profile.ingest_service import IngestServicer
from services.profile.internal_service import InternalProfileServicer, SecretsLookup, no_secrets
from services.profile.offers_client import OffersClient
from services.profile.profile_service import CredentialCheck, ProfileServicer
from services.profile.realtime import ConfigCache
from services.profile.sql_profile import SqlProfileStore

CONFIG = "p13n.profile.v1.ConfigService"
PROFILE = "p13n.profile.v1.ProfileService"
INGEST = "p13n.profile.v1.IngestService"
_INTERNAL = profile_internal_pb2.DESCRIPTOR.services_by_name["InternalProfileService"]
INTERNAL = _INTERNAL.full_name

_RESOURCES = ("ParentSegment", "EventDefinition", "Attribute", "StitchingKey", "Segment")

RULES: dict[str, Access] = {
    **{f"/{CONFIG}/Get{r}": Access.VIEWER for r in _RESOURCES},
    # Each List names what it lists: ListEventDefinitions, not ListEvents.
    **{f"/{CONFIG}/List{r}s": Access.VIEWER for r in _RESOURCES},
    **{
        f"/{CONFIG}/{verb}{r}": Access.EDITOR
        for r in _RESOURCES
        for verb in ("Create", "Update", "Delete")
    },
    f"/{CONFIG}/ImportSegmentMembers": Access.EDITOR,
    f"/{PROFILE}/GetProfile": Access.VIEWER,
    f"/{PROFILE}/ListMergeLog": Access.VIEWER,
    f"/{PROFILE}/ImportAttributes": Access.EDITOR,
    # Client streaming cannot pass the JSON transcoder: the admin listener lets this one
    # method in as native gRPC, with the admin API's credentials (services/auth/grpc_door.py).
    f"/{PROFILE}/StreamImportAttributes": Access.EDITOR,
    f"/{INGEST}/IngestRecords": Access.DATA,
    **every_method(_INTERNAL, Access.INTERNAL),
}

# Which component may call each method (its certificate's name): the admin and data APIs
# come through the gateway; each internal RPC from the one service that needs it.
# An internal method not listed here is refused to every component.
CALLERS: dict[str, frozenset[str]] = {
    **through_gateway(RULES),
    # Auth resolves a token's parent segment when it creates one (RegistryService).
    f"/{CONFIG}/GetParentSegment": only(GATEWAY, AUTH),
    f"/{INTERNAL}/Track": only(OFFERS),
    f"/{INTERNAL}/GetRealtimeConfig": only(OFFERS),
    f"/{INTERNAL}/ListEventTables": only(AUTH),
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
    """The profile service, serving for the block: store and writer, channels, server.

    Each step is pushed on the stack as it is opened, so a failure at any step releases
    what came before it, in reverse; ``reported`` is the health ``run_service`` reports
    from before the first step; ``port`` (0 for any) and ``extra_interceptors`` are for
    tests; ``in_process`` names the services this process hosts (the single-process mode,
    ``services.single``), which are called there, not over the network.
    """
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(
            backends.opened(
                settings.data_dir,
                settings.database_url,
                settings.database_schema("profile"),
                # One interpreter lock for all three services: see Database.run_here.
                writes_on_loop=in_process is not None,
            )
        )
        channels = await stack.enter_async_context(
            Channels.of(settings, PROFILE_COMPONENT, in_process=in_process)
        )
        auth = AuthClient(
            internal_service_pb2_grpc.InternalAuthServiceStub(
                channels.get(settings.auth_target, AUTH)
            ),
            settings.internal_key,
        )
        offers = OffersClient(
            offers_internal_pb2_grpc.InternalOffersServiceStub(
                channels.get(settings.offers_target, OFFERS)
            ),
            settings.internal_key,
        )
        yield await stack.enter_async_context(
            serving_from(
                settings,
                registrations(
                    store,
                    ConfigCache(),
                    auth.flags_of,
                    offers.references,
                    credential_valid=auth.credential_valid,
                    identity_secrets=auth.identity_secrets,
                ),
                component=PROFILE_COMPONENT,
                port=settings.profile_port if port is None else port,
                rules=RULES,
                callers=CALLERS,
                extra_interceptors=extra_interceptors,
                reported=reported,
                in_process=in_process,
            )
        )


def registrations(
    storage: backends.Storage,
    configs: ConfigCache,
    flags_of: FlagsLookup,
    references: ReferencesLookup,
    clock: Callable[[], float] = time.time,
    *,
    credential_valid: CredentialCheck,
    identity_secrets: SecretsLookup = no_secrets,
) -> list[Registration]:
    """The four servicers over one store; tests pass their own collaborators and clock."""
    store = SqlProfileStore(storage.transactions, configs)

    async def import_members(
        account_id: str, request: config_service_pb2.ImportSegmentMembersRequest
    ) -> int:
        # Runs in the request's task, where its identity (who imports) is known.
        return await store.import_members(audit.Author(account_id, audit.actor()), request, clock())

    return [
        Registration(
            config_service_pb2_grpc.add_ConfigServiceServicer_to_server,
            ConfigServicer(storage.configs, flags_of, references, import_members),
            CONFIG,
        ),
        Registration(
            profile_service_pb2_grpc.add_ProfileServiceServicer_to_server,
            ProfileServicer(store, credential_valid, clock),
            PROFILE,
        ),
        Registration(
            ingest_service_pb2_grpc.add_IngestServiceServicer_to_server,
            IngestServicer(store, clock),
            INGEST,
        ),
        Registration(
            profile_internal_pb2_grpc.add_InternalProfileServiceServicer_to_server,
            InternalProfileServicer(
                store, clock, identity_secrets, audit_log=audit.AuditLog(storage.reading, "profile")
            ),
            INTERNAL,
        ),
    ]


def main() -> None:
    run_service("profile", lifespan)
