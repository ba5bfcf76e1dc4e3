"""The auth service process: ext_authz for the gateway, identity and registry admin APIs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import grpc
from envoy.service.auth.v3 import external_auth_pb2_grpc
from p13n.auth.v1 import (
    identity_service_pb2_grpc,
    internal_service_pb2_grpc,
    registry_service_pb2_grpc,
)
from p13n.profile.v1 import (
    config_service_pb2,
    config_service_pb2_grpc,
    profile_service_pb2,
    profile_service_pb2_grpc,
)

from services.auth import passwords, ratelimit, secrets
from services.auth.directory import MemoryDirectory
from services.auth.ext_authz import AuthorizationServicer
from services.auth.identity_service import IdentityServicer
from services.auth.internal_service import InternalAuthServicer
from services.auth.registry_service import RegistryServicer
from services.auth.store import check_secret_key, open_store
from services.common.access import Access
from services.common.clients import Channels, as_service, on_behalf_of_caller
from services.common.config import Settings
from services.common.errors import NotFound, Unavailable
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
    db = await open_store(settings.data_dir)
    keys = secrets.SecretKeys(settings.secret_key)
    await check_secret_key(db, settings.secret_key)
    address_limit = ratelimit.Limit(rate=float(settings.address_rate), burst=settings.address_burst)
    directory = MemoryDirectory(db, keys, address_limit=address_limit)
    await directory.reload()
    channels = Channels()
    profile = profile_service_pb2_grpc.ProfileServiceStub(channels.get(settings.profile_target))
    config = config_service_pb2_grpc.ConfigServiceStub(channels.get(settings.profile_target))

    async def fetch_event_tables(budget: float, patient: bool) -> dict[tuple[str, str], set[str]]:
        reply = await profile.ListEventTables(
            profile_service_pb2.ListEventTablesRequest(),
            metadata=as_service("auth", settings.internal_key),
            timeout=budget,
            # The background poll waits out a reconnect (the profile service may start
            # after us); a preflight cannot wait.
            wait_for_ready=patient,
        )
        tables: dict[tuple[str, str], set[str]] = {}
        for table in reply.tables:
            tables.setdefault((table.database, table.table), set()).add(table.parent_segment_id)
        return tables

    async def reactor_id_of(parent_segment_id: str) -> str:
        # Asked on the caller's behalf: the profile service applies the caller's account.
        try:
            segment = await config.GetParentSegment(
                config_service_pb2.GetParentSegmentRequest(parent_segment_id=parent_segment_id),
                metadata=on_behalf_of_caller(),
                timeout=5,
                wait_for_ready=True,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"Parent segment {parent_segment_id!r} not found") from None
            raise Unavailable("The profile service cannot answer; retry shortly") from None
        return str(segment.reactor_id)

    registrations = [
        Registration(
            external_auth_pb2_grpc.add_AuthorizationServicer_to_server,
            AuthorizationServicer(directory, settings.internal_key),
            ENVOY_AUTHZ,
        ),
        Registration(
            identity_service_pb2_grpc.add_IdentityServiceServicer_to_server,
            IdentityServicer(db, directory, keys, passwords.Passwords()),
            IDENTITY,
        ),
        Registration(
            registry_service_pb2_grpc.add_RegistryServiceServicer_to_server,
            RegistryServicer(db, directory, keys, reactor_id_of),
            REGISTRY,
        ),
        Registration(
            internal_service_pb2_grpc.add_InternalAuthServiceServicer_to_server,
            InternalAuthServicer(db, directory),
            INTERNAL,
        ),
    ]
    refresher: asyncio.Task[None] | None = None

    async def close() -> None:
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
        await channels.close()
        await db.close()

    try:
        running = await start_server(
            registrations,
            host=settings.bind_host,
            port=settings.auth_port if port is None else port,
            key=settings.internal_key,
            rules=RULES,
            extra_interceptors=extra_interceptors,
        )
    except BaseException:
        await close()
        raise
    refresher = asyncio.create_task(directory.run_refresher(fetch_event_tables))
    return running, close


def main() -> None:
    run_service("auth", create_server)
