"""The profile service process: configuration, events, stitching, attributes, imports, ingest."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import grpc
from p13n.auth.v1 import internal_service_pb2, internal_service_pb2_grpc
from p13n.offers.v1 import (
    personalization_config_service_pb2,
    personalization_config_service_pb2_grpc,
)
from p13n.profile.v1 import (
    config_service_pb2,
    config_service_pb2_grpc,
    ingest_service_pb2_grpc,
    profile_service_pb2_grpc,
)

from services.common.access import Access
from services.common.clients import Channels, as_service
from services.common.config import Settings
from services.common.errors import Unavailable
from services.common.main import run_service
from services.common.server import Registration, RunningServer, start_server
from services.common.storage import Database
from services.profile.config_service import ConfigServicer, FlagsLookup, ReferencesLookup
from services.profile.group_commit import GroupCommit
from services.profile.ingest_service import IngestServicer, direct_authenticator
from services.profile.profile_service import ProfileServicer
from services.profile.realtime import ConfigCache
from services.profile.sqlite_config import SqliteConfigStore
from services.profile.sqlite_profile import SqliteProfileStore
from services.profile.store import open_store

FLAGS_TTL_SECONDS = 2.0
CONFIG = "p13n.profile.v1.ConfigService"
PROFILE = "p13n.profile.v1.ProfileService"
INGEST = "p13n.profile.v1.IngestService"

_RESOURCES = ("ParentSegment", "EventDefinition", "Attribute", "StitchingKey", "Segment")
_PLURALS = ("ParentSegments", "Events", "Attributes", "StitchingKeys", "Segments")

RULES: dict[str, Access] = {
    **{f"/{CONFIG}/Get{r}": Access.VIEWER for r in _RESOURCES},
    **{f"/{CONFIG}/List{p}": Access.VIEWER for p in _PLURALS},
    **{
        f"/{CONFIG}/{verb}{r}": Access.EDITOR
        for r in _RESOURCES
        for verb in ("Create", "Update", "Delete")
    },
    f"/{CONFIG}/ImportSegmentMembers": Access.EDITOR,
    f"/{PROFILE}/GetProfile": Access.VIEWER,
    f"/{PROFILE}/ListMergeLog": Access.VIEWER,
    f"/{PROFILE}/ImportAttributes": Access.EDITOR,
    # Client streaming cannot pass the JSON gateway, so the CLI calls it directly with an
    # API key, authenticated like a direct ingest call; the handler then requires EDITOR.
    f"/{PROFILE}/StreamImportAttributes": Access.DATA,
    f"/{PROFILE}/Track": Access.INTERNAL,
    f"/{PROFILE}/GetRealtimeConfig": Access.INTERNAL,
    f"/{PROFILE}/ListEventTables": Access.INTERNAL,
    f"/{INGEST}/IngestRecords": Access.DATA,
}


async def create_server(
    settings: Settings,
    port: int | None = None,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
    """Starts the profile service; returns it and a function that releases its resources."""
    db = await open_store(settings.data_dir)
    writer = GroupCommit(db)
    writer.start()
    configs = ConfigCache()
    channels = Channels()
    auth = internal_service_pb2_grpc.InternalAuthServiceStub(channels.get(settings.auth_target))
    offers = personalization_config_service_pb2_grpc.PersonalizationConfigServiceStub(
        channels.get(settings.offers_target)
    )
    flag_cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def flags_of(account_id: str) -> frozenset[str]:
        cached = flag_cache.get(account_id)
        if cached and time.monotonic() - cached[0] < FLAGS_TTL_SECONDS:
            return cached[1]
        try:
            reply = await auth.GetAccountFlags(
                internal_service_pb2.GetAccountFlagsRequest(account_id=account_id),
                metadata=as_service("profile", settings.internal_key),
                timeout=2,
            )
        except grpc.aio.AioRpcError:
            raise Unavailable("The auth service cannot answer; retry shortly") from None
        flags = frozenset(reply.flags)
        flag_cache[account_id] = (time.monotonic(), flags)
        return flags

    async def references(parent_segment_id: str, **reference: str) -> list[str]:
        # Fail closed: when the offers service cannot answer, nothing referenced is deleted.
        try:
            reply = await offers.ListReferences(
                personalization_config_service_pb2.ListReferencesRequest(
                    parent_segment_id=parent_segment_id, **reference
                ),
                metadata=as_service("profile", settings.internal_key),
                timeout=5,
            )
        except grpc.aio.AioRpcError:
            raise Unavailable(
                "The offers service cannot confirm that nothing references this; retry shortly"
            ) from None
        return list(reply.personalization_names)

    registrations = servicers(db, writer, configs, flags_of, references)

    async def close() -> None:
        # The server has stopped taking calls; let the writer finish its batch first.
        await writer.close()
        await channels.close()
        await db.close()

    try:
        running = await start_server(
            registrations,
            host=settings.bind_host,
            port=settings.profile_port if port is None else port,
            key=settings.internal_key,
            rules=RULES,
            direct=direct_authenticator(auth, settings.internal_key),
            extra_interceptors=extra_interceptors,
        )
    except BaseException:
        await close()
        raise
    return running, close


def servicers(
    db: Database,
    writer: GroupCommit,
    configs: ConfigCache,
    flags_of: FlagsLookup,
    references: ReferencesLookup,
    clock: Callable[[], float] = time.time,
) -> list[Registration]:
    """The three servicers over one store; tests pass their own collaborators and clock."""
    store = SqliteProfileStore(db, writer, configs)

    async def import_members(
        account_id: str, request: config_service_pb2.ImportSegmentMembersRequest
    ) -> int:
        return await store.import_members(account_id, request, clock())

    return [
        Registration(
            config_service_pb2_grpc.add_ConfigServiceServicer_to_server,
            ConfigServicer(SqliteConfigStore(db), flags_of, references, import_members),
            CONFIG,
        ),
        Registration(
            profile_service_pb2_grpc.add_ProfileServiceServicer_to_server,
            ProfileServicer(store, clock),
            PROFILE,
        ),
        Registration(
            ingest_service_pb2_grpc.add_IngestServiceServicer_to_server,
            IngestServicer(store, clock),
            INGEST,
        ),
    ]


def main() -> None:
    run_service("profile", create_server)
