"""The auth service process: ext_authz for the gateway, identity and registry admin APIs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import grpc
from envoy.service.auth.v3 import external_auth_pb2_grpc
from p13n.auth.v1 import (
    identity_service_pb2_grpc,
    internal_service_pb2_grpc,
    registry_service_pb2_grpc,
)

from services.auth.directory import MemoryDirectory
from services.auth.ext_authz import AuthorizationServicer
from services.common.access import Access
from services.common.config import Settings
from services.common.main import run_service
from services.common.server import Registration, RunningServer, start_server

IDENTITY = "p13n.auth.v1.IdentityService"
REGISTRY = "p13n.auth.v1.RegistryService"
INTERNAL = "p13n.auth.v1.InternalAuthService"
ENVOY_AUTHZ = "envoy.service.auth.v3.Authorization"

RULES: dict[str, Access] = {
    # Envoy carries no identity: it is asking for one.
    f"/{ENVOY_AUTHZ}/Check": Access.OPEN,
    f"/{IDENTITY}/CreateSession": Access.OPEN,
    f"/{IDENTITY}/ReauthenticateSession": Access.VIEWER,
    f"/{IDENTITY}/GetMe": Access.VIEWER,
    f"/{IDENTITY}/CreateUser": Access.ADMIN,
    f"/{IDENTITY}/CreateApiKey": Access.ADMIN,
    f"/{IDENTITY}/DeleteApiKey": Access.ADMIN,
    **{
        f"/{REGISTRY}/{m}": Access.ADMIN
        for m in [
            "CreateService",
            "GetService",
            "ListServices",
            "UpdateService",
            "DeleteService",
            "CreateToken",
            "ListTokens",
            "DeleteToken",
            "RevealToken",
        ]
    },
    f"/{INTERNAL}/AuthenticateCall": Access.INTERNAL,
    f"/{INTERNAL}/GetAccountFlags": Access.INTERNAL,
}


async def create_server(
    settings: Settings,
    port: int | None = None,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
    """Starts the auth service; returns it and a function that releases its resources."""
    directory = MemoryDirectory()
    registrations = [
        Registration(
            external_auth_pb2_grpc.add_AuthorizationServicer_to_server,
            AuthorizationServicer(directory, settings.internal_key),
            ENVOY_AUTHZ,
        ),
        Registration(
            identity_service_pb2_grpc.add_IdentityServiceServicer_to_server,
            identity_service_pb2_grpc.IdentityServiceServicer(),
            IDENTITY,
        ),
        Registration(
            registry_service_pb2_grpc.add_RegistryServiceServicer_to_server,
            registry_service_pb2_grpc.RegistryServiceServicer(),
            REGISTRY,
        ),
        Registration(
            internal_service_pb2_grpc.add_InternalAuthServiceServicer_to_server,
            internal_service_pb2_grpc.InternalAuthServiceServicer(),
            INTERNAL,
        ),
    ]
    running = await start_server(
        registrations,
        host=settings.bind_host,
        port=settings.auth_port if port is None else port,
        key=settings.internal_key,
        rules=RULES,
        extra_interceptors=extra_interceptors,
    )

    async def close() -> None:
        return None

    return running, close


def main() -> None:
    run_service("auth", create_server)
