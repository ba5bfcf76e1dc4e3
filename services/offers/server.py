"""The offers service process: personalizations, the personalize paths, preview."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import grpc
from p13n.offers.v1 import personalization_config_service_pb2_grpc, personalize_service_pb2_grpc

from services.common.access import Access
from services.common.config import Settings
from services.common.main import run_service
from services.common.server import Registration, RunningServer, start_server

PERSONALIZE = "p13n.offers.v1.PersonalizeService"
CONFIG = "p13n.offers.v1.PersonalizationConfigService"

RULES: dict[str, Access] = {
    f"/{PERSONALIZE}/PublicPersonalize": Access.DATA,
    f"/{PERSONALIZE}/PrivatePersonalize": Access.DATA,
    f"/{CONFIG}/GetPersonalization": Access.VIEWER,
    f"/{CONFIG}/ListPersonalizations": Access.VIEWER,
    f"/{CONFIG}/PreviewPersonalization": Access.VIEWER,
    f"/{CONFIG}/CreatePersonalization": Access.EDITOR,
    f"/{CONFIG}/UpdatePersonalization": Access.EDITOR,
    f"/{CONFIG}/DeletePersonalization": Access.EDITOR,
    f"/{CONFIG}/ListReferences": Access.INTERNAL,
}


async def create_server(
    settings: Settings,
    port: int | None = None,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
    """Starts the offers service; returns it and a function that releases its resources."""
    registrations = [
        Registration(
            personalize_service_pb2_grpc.add_PersonalizeServiceServicer_to_server,
            personalize_service_pb2_grpc.PersonalizeServiceServicer(),
            PERSONALIZE,
        ),
        Registration(
            personalization_config_service_pb2_grpc.add_PersonalizationConfigServiceServicer_to_server,
            personalization_config_service_pb2_grpc.PersonalizationConfigServiceServicer(),
            CONFIG,
        ),
    ]
    running = await start_server(
        registrations,
        host=settings.bind_host,
        port=settings.offers_port if port is None else port,
        key=settings.internal_key,
        rules=RULES,
        extra_interceptors=extra_interceptors,
    )

    async def close() -> None:
        return None

    return running, close


def main() -> None:
    run_service("offers", create_server)
