"""The profile service process: configuration, events, stitching, attributes, imports, ingest."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import grpc
from p13n.profile.v1 import (
    config_service_pb2_grpc,
    ingest_service_pb2_grpc,
    profile_service_pb2_grpc,
)

from services.common.access import Access
from services.common.config import Settings
from services.common.main import run_service
from services.common.server import Registration, RunningServer, start_server

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
    f"/{PROFILE}/StreamImportAttributes": Access.EDITOR,
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
    registrations = [
        Registration(
            config_service_pb2_grpc.add_ConfigServiceServicer_to_server,
            config_service_pb2_grpc.ConfigServiceServicer(),
            CONFIG,
        ),
        Registration(
            profile_service_pb2_grpc.add_ProfileServiceServicer_to_server,
            profile_service_pb2_grpc.ProfileServiceServicer(),
            PROFILE,
        ),
        Registration(
            ingest_service_pb2_grpc.add_IngestServiceServicer_to_server,
            ingest_service_pb2_grpc.IngestServiceServicer(),
            INGEST,
        ),
    ]
    running = await start_server(
        registrations,
        host=settings.bind_host,
        port=settings.profile_port if port is None else port,
        key=settings.internal_key,
        rules=RULES,
        extra_interceptors=extra_interceptors,
    )

    async def close() -> None:
        return None

    return running, close


def main() -> None:
    run_service("profile", create_server)
