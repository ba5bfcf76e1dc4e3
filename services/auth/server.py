"""The auth service process: ext_authz for the gateway, identity and registry admin APIs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import grpc
from envoy.service.auth.v3 import external_auth_pb2_grpc
from p13n.auth.v1 import (
    audit_pb2_grpc,
    identity_service_pb2_grpc,
    internal_service_pb2,
    internal_service_pb2_grpc,
    registry_service_pb2_grpc,
)
from p13n.offers.v1 import internal_service_pb2 as offers_internal_pb2
from p13n.offers.v1 import internal_service_pb2_grpc as offers_internal_pb2_grpc
from p13n.offers.v1 import personalize_service_pb2_grpc
from p13n.profile.v1 import config_service_pb2_grpc
from p13n.profile.v1 import internal_service_pb2 as profile_internal_pb2
from p13n.profile.v1 import internal_service_pb2_grpc as profile_internal_pb2_grpc

from services.auth import browser_socket, failures, passwords, ratelimit, secrets
from services.auth.audit_service import AuditServicer, Source, local, remote
from services.auth.body_checks import BodyChecks, body_checks
from services.auth.directory import MemoryDirectory
from services.auth.ext_authz import AuthorizationServicer
from services.auth.identity_service import IdentityServicer
from services.auth.internal_service import InternalAuthServicer
from services.auth.profile_client import ProfileClient
from services.auth.public_path import BrowserPath
from services.auth.registry_service import RegistryServicer
from services.auth.store import open_store
from services.auth.store_protocols import AuthStore
from services.common.access import Access, every_method
from services.common.callers import AUTH, OFFERS, PROFILE, only, through_gateway
from services.common.clients import Channels
from services.common.config import Settings
from services.common.in_process import InProcess
from services.common.lifecycle import background
from services.common.main import run_service
from services.common.readiness import ServiceHealth
from services.common.server import Registration, RunningServer, serving_from

IDENTITY = "p13n.auth.v1.IdentityService"
REGISTRY = "p13n.auth.v1.RegistryService"
AUDIT = "p13n.auth.v1.AuditService"
_INTERNAL = internal_service_pb2.DESCRIPTOR.services_by_name["InternalAuthService"]
INTERNAL = _INTERNAL.full_name
ENVOY_AUTHZ = "envoy.service.auth.v3.Authorization"

RULES: dict[str, Access] = {
    # Envoy carries no identity: it is asking for one.
    f"/{ENVOY_AUTHZ}/Check": Access.OPEN,
    f"/{IDENTITY}/CreateSession": Access.OPEN,
    f"/{IDENTITY}/ReauthenticateSession": Access.VIEWER,
    f"/{IDENTITY}/DeleteSession": Access.VIEWER,
    f"/{IDENTITY}/GetMe": Access.VIEWER,
    f"/{IDENTITY}/CreateUser": Access.ADMIN,
    f"/{IDENTITY}/CreateApiKey": Access.ADMIN,
    f"/{IDENTITY}/DeleteApiKey": Access.ADMIN,
    # Who changed what: ADMIN and OWNER only (an entry names users and API keys).
    f"/{AUDIT}/ListAuditEntries": Access.ADMIN,
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
            "CreateIdentitySecret",
            "ListIdentitySecrets",
            "DeleteIdentitySecret",
            "RevealIdentitySecret",
        ]
    },
    **every_method(_INTERNAL, Access.INTERNAL),
}

# Which component may call each method (its certificate's name): the decision ``Check``
# returns is the gateway's alone to ask for, so no other process can mint an identity.
# An internal method not listed here is refused to every component.
CALLERS: dict[str, frozenset[str]] = {
    **through_gateway(RULES),
    f"/{INTERNAL}/GetAccountFlags": only(PROFILE),
    f"/{INTERNAL}/CheckCredential": only(PROFILE),
    f"/{INTERNAL}/GetIdentitySecrets": only(PROFILE),
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
    """The auth service, serving for the block: store, channels, refresher, server.

    Each step is pushed on the stack as it is opened, so a failure at any step releases
    what came before it, in reverse; ``reported`` is the health ``run_service`` reports
    from before the first step; ``port`` (0 for any) and ``extra_interceptors`` are for
    tests; ``in_process`` names the services this process hosts (the single-process mode,
    ``services.single``), which are called there, not over the network.
    """
    async with contextlib.AsyncExitStack() as stack:
        db = await open_store(settings)
        stack.push_async_callback(db.close)
        keys = secrets.SecretKeys(settings.secret_key)
        await db.check_secret_key(settings.secret_key)
        address_limit = ratelimit.Limit(
            rate=float(settings.address_rate), burst=settings.address_burst
        )
        buckets = db.failure_buckets(keys)
        await stack.enter_async_context(buckets.listening())
        directory = MemoryDirectory(
            db,
            keys,
            address_limit=address_limit,
            replicas=settings.auth_replicas,
            admin_failures=failures.FailureBudgets(buckets=buckets),
        )
        await directory.reload()
        channels = await stack.enter_async_context(
            Channels.of(settings, AUTH, in_process=in_process)
        )
        profile_channel = channels.get(settings.profile_target, PROFILE)
        offers_channel = channels.get(settings.offers_target, OFFERS)
        profile = ProfileClient(
            profile_internal_pb2_grpc.InternalProfileServiceStub(profile_channel),
            config_service_pb2_grpc.ConfigServiceStub(profile_channel),
            settings.internal_key,
        )
        audit_sources: dict[str, Source] = {
            "auth": local(db.audit_log()),
            "profile": remote(
                profile_internal_pb2_grpc.InternalProfileServiceStub(profile_channel),
                profile_internal_pb2.ListAuditEntriesRequest,
                PROFILE,
                settings.internal_key,
            ),
            "offers": remote(
                offers_internal_pb2_grpc.InternalOffersServiceStub(offers_channel),
                offers_internal_pb2.ListAuditEntriesRequest,
                OFFERS,
                settings.internal_key,
            ),
        }
        # Started before the server and stopped after it: no call ever sees a directory
        # that has stopped refreshing.
        await stack.enter_async_context(
            background(
                "auth-directory-refresher",
                lambda: directory.run_refresher(profile.event_tables),
            )
        )
        checks = await stack.enter_async_context(body_checks())
        running = await stack.enter_async_context(
            serving_from(
                settings,
                registrations(
                    db,
                    directory,
                    keys,
                    profile,
                    settings.internal_key,
                    audit_sources,
                    checks,
                ),
                component=AUTH,
                port=settings.auth_port if port is None else port,
                rules=RULES,
                callers=CALLERS,
                extra_interceptors=extra_interceptors,
                reported=reported,
                in_process=in_process,
            )
        )
        if in_process is not None:
            # The single-process mode: the gateway hands browser events here, decided and
            # answered in this process (services/auth/public_path.py). Opened once the
            # server serves; closed first on the way out.
            offers = personalize_service_pb2_grpc.PersonalizeServiceStub(offers_channel)
            browser = BrowserPath(directory, settings.internal_key, offers)
            await stack.enter_async_context(
                browser_socket.serving(settings.browser_socket, browser)
            )
        yield running


def registrations(
    db: AuthStore,
    directory: MemoryDirectory,
    keys: secrets.SecretKeys,
    profile: ProfileClient,
    internal_key: bytes,
    audit_sources: dict[str, Source],
    checks: BodyChecks | None = None,
) -> list[Registration]:
    """The servicers over one store and one in-memory directory."""
    return [
        Registration(
            external_auth_pb2_grpc.add_AuthorizationServicer_to_server,
            AuthorizationServicer(directory, internal_key, checks),
            ENVOY_AUTHZ,
        ),
        Registration(
            identity_service_pb2_grpc.add_IdentityServiceServicer_to_server,
            IdentityServicer(db, directory, keys, passwords.Passwords()),
            IDENTITY,
        ),
        Registration(
            registry_service_pb2_grpc.add_RegistryServiceServicer_to_server,
            RegistryServicer(db, directory, keys, profile.reactor_id_of),
            REGISTRY,
        ),
        Registration(
            audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(audit_sources), AUDIT
        ),
        Registration(
            internal_service_pb2_grpc.add_InternalAuthServiceServicer_to_server,
            InternalAuthServicer(db, directory, keys),
            INTERNAL,
        ),
    ]


def main() -> None:
    run_service("auth", lifespan)
