"""Personalization services and their tokens (docs/design.md#admin-auth, docs/design.md#tokens)."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf import empty_pb2
from p13n.auth.v1 import personalization_service_pb2 as pb
from p13n.auth.v1 import registry_service_pb2, registry_service_pb2_grpc
from typing_extensions import override

from services.auth import secrets, validation
from services.auth.directory import MemoryDirectory
from services.auth.identity_service import caller
from services.auth.messages import (
    SERVICE_TYPES,
    identity_secret_message,
    service_message,
    token_message,
)
from services.auth.store_protocols import (
    IdentitySecretRecord,
    RegistryReader,
    RegistryStore,
    ServiceChanges,
    ServiceDraft,
    ServiceRecord,
    TokenDraft,
    TokenRecord,
)
from services.common import audit
from services.common.convert import path_id
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from services.common.paging import json_size, one_page, page_after, page_size

log = logging.getLogger(__name__)

# Looks up a parent segment through the profile service's contract: its reactor id.
ParentSegmentLookup = Callable[[str], Awaitable[str]]

_UPDATABLE = {"name", "description", "allowed_origins", "rate_limit", "type"}
MAX_RATE = 100_000
# Enough to rotate (the new one signs while the old one's proofs are still in flight).
MAX_IDENTITY_SECRETS_PER_SERVICE = 5


def _who() -> str:
    """The caller as an audit line names it: ids only, never a credential."""
    me = caller()
    if me.user_id:
        return f"user {me.user_id}"
    return f"an API key of account {me.account_id}"


def _populated(service: pb.PersonalizationService) -> set[str]:
    """AIP-134: without an update mask, the fields the caller set are the ones to update."""
    return {field.name for field, _ in service.ListFields()} & _UPDATABLE


def _rate_limit(limit: pb.RateLimit) -> tuple[int, int]:
    for field, value in (
        ("requests_per_second", limit.requests_per_second),
        ("burst", limit.burst),
    ):
        if not 0 <= value <= MAX_RATE:
            raise InvalidArgument(
                f"Rate limit {field} must be between 0 (the default) and {MAX_RATE}",
                field=f"service.rate_limit.{field}",
            )
    return limit.requests_per_second, limit.burst


class RegistryServicer(registry_service_pb2_grpc.RegistryServiceServicer):
    def __init__(
        self,
        store: RegistryStore,
        directory: MemoryDirectory,
        keys: secrets.SecretKeys,
        parent_segment: ParentSegmentLookup,
    ) -> None:
        self._store = store
        self._directory = directory
        self._keys = keys
        self._parent_segment = parent_segment

    @override
    async def CreateService(
        self, request: registry_service_pb2.CreateServiceRequest, context: Any
    ) -> pb.PersonalizationService:
        account_id = int(caller().account_id)
        service = request.service
        service_type = SERVICE_TYPES.get(service.type)
        async with self._store.registry_reading() as reader:
            validation.check_service_type_allowed(service_type, await reader.flags(account_id))
        assert service_type is not None
        origins = validation.validate_service_allowed_origins(
            service_type, list(service.allowed_origins)
        )
        rate, burst = _rate_limit(service.rate_limit)
        reactor_id = await self._parent_segment(request.parent_segment_id)
        now = time.time()
        async with self._store.registry_writing() as writer:
            name = validation.validate_name(
                service.name, await writer.service_names(account_id, request.parent_segment_id)
            )
            draft = ServiceDraft(
                parent_segment_id=request.parent_segment_id,
                reactor_id=reactor_id,
                name=name,
                description=service.description,
                type=service_type.value,
                allowed_origins=origins,
                rate_per_second=rate,
                rate_burst=burst,
            )
            record = await writer.insert_service(account_id, draft, now)
            await writer.record(_change(audit.CREATE, None, record))
        await self._directory.reload()
        return service_message(record)

    @override
    async def GetService(
        self, request: registry_service_pb2.GetServiceRequest, context: Any
    ) -> pb.PersonalizationService:
        async with self._store.registry_reading() as reader:
            return service_message(
                await _service(reader, request.parent_segment_id, request.service_id)
            )

    @override
    async def ListServices(
        self, request: registry_service_pb2.ListServicesRequest, context: Any
    ) -> registry_service_pb2.ListServicesResponse:
        size = page_size(request.page_size)
        after = page_after(request.page_token)
        async with self._store.registry_reading() as reader:
            services = await reader.services_after(
                int(caller().account_id), request.parent_segment_id, after, size + 1
            )
        page, token = one_page(services, size, lambda s: json_size(service_message(s)))
        return registry_service_pb2.ListServicesResponse(
            services=[service_message(s) for s in page], next_page_token=token
        )

    @override
    async def UpdateService(
        self, request: registry_service_pb2.UpdateServiceRequest, context: Any
    ) -> pb.PersonalizationService:
        paths = set(request.update_mask.paths) or _populated(request.service)
        unknown = paths - _UPDATABLE
        if unknown:
            raise InvalidArgument(
                f"Cannot update {', '.join(sorted(unknown))}; updatable fields are "
                "name, description, allowed_origins and rate_limit",
                field="update_mask",
            )
        changes = request.service
        async with self._store.registry_writing() as writer:
            current = await _service(writer, request.parent_segment_id, request.service_id)
            current_type = validation.ServiceType(current.type)
            if "type" in paths:
                validation.check_service_type_unchanged(
                    current_type, SERVICE_TYPES.get(changes.type)
                )
            name = current.name
            if "name" in paths:
                name = validation.validate_name(
                    changes.name,
                    await writer.service_names(
                        current.account_id, request.parent_segment_id, current.id
                    ),
                )
            origins = current.allowed_origins
            if "allowed_origins" in paths:
                origins = validation.validate_service_allowed_origins(
                    current_type, list(changes.allowed_origins)
                )
            rate, burst = current.rate_per_second, current.rate_burst
            if "rate_limit" in paths:
                rate, burst = _rate_limit(changes.rate_limit)
            description = changes.description if "description" in paths else current.description
            record = await writer.update_service(
                current, ServiceChanges(name, description, origins, rate, burst), time.time()
            )
            await writer.record(_change(audit.UPDATE, current, record))
        await self._directory.reload()
        return service_message(record)

    @override
    async def DeleteService(
        self, request: registry_service_pb2.DeleteServiceRequest, context: Any
    ) -> empty_pb2.Empty:
        async with self._store.registry_writing() as writer:
            current = await _service(writer, request.parent_segment_id, request.service_id)
            await writer.delete_service(current.id)
            await writer.record(_change(audit.DELETE, current, None))
        await self._directory.reload()
        log.info("service %s and its tokens deleted by %s", current.id, _who())
        return empty_pb2.Empty()

    @override
    async def CreateToken(
        self, request: registry_service_pb2.CreateTokenRequest, context: Any
    ) -> pb.Token:
        token = request.token
        now = time.time()
        async with self._store.registry_writing() as writer:
            service = await _service(writer, request.parent_segment_id, request.service_id)
            service_type = validation.ServiceType(service.type)
            # The m2-1 flag covers public services and their tokens.
            validation.check_service_type_allowed(
                service_type, await writer.flags(int(caller().account_id))
            )
            names = await writer.token_names(service.id)
            name = validation.validate_name(token.name, names)
            allowed_ips = validation.validate_token_allowed_ips(
                service_type, list(token.allowed_ips)
            )
            validation.check_token_limits(
                tokens_in_service=len(names),
                tokens_in_parent_segment=await writer.tokens_in_parent_segment(
                    service.account_id, service.parent_segment_id
                ),
            )
            kind = (
                secrets.SecretKind.PUBLIC_TOKEN
                if service_type is validation.ServiceType.PUBLIC
                else secrets.SecretKind.PRIVATE_TOKEN
            )
            secret = secrets.generate_secret(kind)
            record = await writer.insert_token(
                service.id,
                TokenDraft(name, allowed_ips, self._keys.lookup_hash(secret)),
                lambda token_id: self._keys.encrypt(secret, str(token_id)),
                now,
            )
            await writer.record(_token_change(audit.CREATE, service, None, record))
        await self._directory.reload()
        log.info("token %s created in service %s by %s", record.id, service.id, _who())
        full = secrets.make_token(str(service.account_id), service.reactor_id, secret)
        return token_message(record, full.reveal())

    @override
    async def ListTokens(
        self, request: registry_service_pb2.ListTokensRequest, context: Any
    ) -> registry_service_pb2.ListTokensResponse:
        size = page_size(request.page_size)
        after = page_after(request.page_token)
        async with self._store.registry_reading() as reader:
            service = await _service(reader, request.parent_segment_id, request.service_id)
            tokens = await reader.tokens_after(service.id, after, size + 1)
        page, token = one_page(tokens, size, lambda t: json_size(token_message(t)))
        return registry_service_pb2.ListTokensResponse(
            tokens=[token_message(t) for t in page], next_page_token=token
        )

    @override
    async def DeleteToken(
        self, request: registry_service_pb2.DeleteTokenRequest, context: Any
    ) -> empty_pb2.Empty:
        async with self._store.registry_writing() as writer:
            service = await _service(writer, request.parent_segment_id, request.service_id)
            token = await _token(writer, service, request.token_id)
            await writer.delete_token(token.id)
            await writer.record(_token_change(audit.DELETE, service, token, None))
        await self._directory.reload()
        log.info("token %s of service %s deleted by %s", token.id, service.id, _who())
        return empty_pb2.Empty()

    @override
    async def RevealToken(
        self, request: registry_service_pb2.RevealTokenRequest, context: Any
    ) -> pb.Token:
        async with self._store.registry_reading() as reader:
            await _require_recent_sign_in(reader)
            service = await _service(reader, request.parent_segment_id, request.service_id)
            token = await _token(reader, service, request.token_id)
        secret = self._keys.decrypt(token.encrypted_secret, str(token.id))
        log.info("token %s of service %s revealed to %s", token.id, service.id, _who())
        full = secrets.make_token(str(service.account_id), service.reactor_id, secret)
        return token_message(token, full.reveal())

    # -- identity secrets (docs/design.md#verified-identifiers) --------------------------

    @override
    async def CreateIdentitySecret(
        self, request: registry_service_pb2.CreateIdentitySecretRequest, context: Any
    ) -> pb.IdentitySecret:
        now = time.time()
        async with self._store.registry_writing() as writer:
            service = await _service(writer, request.parent_segment_id, request.service_id)
            if validation.ServiceType(service.type) is not validation.ServiceType.PUBLIC:
                raise FailedPrecondition(
                    "Identity secrets are for public services: a private service's callers "
                    "are trusted and need no identity proofs",
                    reason="IDENTITY_SECRET_ON_PRIVATE_SERVICE",
                )
            existing = await writer.identity_secrets(service.id)
            name = validation.validate_name(
                request.identity_secret.name,
                [s.name for s in existing],
                field="identity_secret.name",
            )
            if len(existing) >= MAX_IDENTITY_SECRETS_PER_SERVICE:
                raise ResourceExhausted(
                    "Identity secret limit reached: a service can have at most "
                    f"{MAX_IDENTITY_SECRETS_PER_SERVICE}. Delete one that no longer signs "
                    "proofs, then try again.",
                    reason="IDENTITY_SECRET_LIMIT",
                    metadata={"limit": str(MAX_IDENTITY_SECRETS_PER_SERVICE)},
                )
            secret = secrets.generate_secret(secrets.SecretKind.IDENTITY_SECRET)
            record = await writer.insert_identity_secret(
                service.id,
                name,
                lambda i: self._keys.encrypt(secret, secrets.identity_secret_record(i)),
                now,
            )
            await writer.record(_secret_change(audit.CREATE, service, None, record))
        log.info("identity secret %s created in service %s by %s", record.id, service.id, _who())
        return identity_secret_message(record, secret.reveal())

    @override
    async def ListIdentitySecrets(
        self, request: registry_service_pb2.ListIdentitySecretsRequest, context: Any
    ) -> registry_service_pb2.ListIdentitySecretsResponse:
        async with self._store.registry_reading() as reader:
            service = await _service(reader, request.parent_segment_id, request.service_id)
            records = await reader.identity_secrets(service.id)
        return registry_service_pb2.ListIdentitySecretsResponse(
            identity_secrets=[identity_secret_message(r) for r in records]
        )

    @override
    async def DeleteIdentitySecret(
        self, request: registry_service_pb2.DeleteIdentitySecretRequest, context: Any
    ) -> empty_pb2.Empty:
        async with self._store.registry_writing() as writer:
            service = await _service(writer, request.parent_segment_id, request.service_id)
            record = await _identity_secret(writer, service, request.identity_secret_id)
            await writer.delete_identity_secret(record.id)
            await writer.record(_secret_change(audit.DELETE, service, record, None))
        log.info("identity secret %s of service %s deleted by %s", record.id, service.id, _who())
        return empty_pb2.Empty()

    @override
    async def RevealIdentitySecret(
        self, request: registry_service_pb2.RevealIdentitySecretRequest, context: Any
    ) -> pb.IdentitySecret:
        async with self._store.registry_reading() as reader:
            await _require_recent_sign_in(reader)
            service = await _service(reader, request.parent_segment_id, request.service_id)
            record = await _identity_secret(reader, service, request.identity_secret_id)
        secret = self._keys.decrypt(
            record.encrypted_secret, secrets.identity_secret_record(record.id)
        )
        log.info("identity secret %s of service %s revealed to %s", record.id, service.id, _who())
        return identity_secret_message(record, secret.reveal())


async def _require_recent_sign_in(reader: RegistryReader) -> None:
    """A reveal needs the caller's session re-authenticated lately (tokens and identity
    secrets alike)."""
    seconds = await reader.session_authenticated_time(path_id(caller().session_id))
    authenticated = (
        datetime.datetime.fromtimestamp(seconds, datetime.UTC) if seconds is not None else None
    )
    validation.require_recent_authentication(authenticated, datetime.datetime.now(datetime.UTC))


async def _service(
    reader: RegistryReader, parent_segment_id: str, service_id: str
) -> ServiceRecord:
    """The caller's service; NOT_FOUND when their account has none by that id there."""
    record = await reader.service(int(caller().account_id), parent_segment_id, path_id(service_id))
    if record is None:
        raise NotFound(f"Service {service_id!r} not found in parent segment {parent_segment_id!r}")
    return record


async def _token(reader: RegistryReader, service: ServiceRecord, token_id: str) -> TokenRecord:
    record = await reader.token(service.id, path_id(token_id))
    if record is None:
        raise NotFound(f"Token {token_id!r} not found in service {service.id}")
    return record


async def _identity_secret(
    reader: RegistryReader, service: ServiceRecord, secret_id: str
) -> IdentitySecretRecord:
    wanted = path_id(secret_id)
    for record in await reader.identity_secrets(service.id):
        if record.id == wanted:
            return record
    raise NotFound(f"Identity secret {secret_id!r} not found in service {service.id}")


def _change(action: str, before: ServiceRecord | None, after: ServiceRecord | None) -> audit.Entry:
    changed = after or before
    assert changed is not None  # a change has a before or an after
    return audit.change(
        action,
        "service",
        str(changed.id),
        None if before is None else service_message(before),
        None if after is None else service_message(after),
        parent=f"parent_segments/{changed.parent_segment_id}",
    )


def _token_change(
    action: str, service: ServiceRecord, before: TokenRecord | None, after: TokenRecord | None
) -> audit.Entry:
    return _service_child_change(
        action,
        "token",
        service,
        None if before is None else token_message(before),
        None if after is None else token_message(after),
    )


def _secret_change(
    action: str,
    service: ServiceRecord,
    before: IdentitySecretRecord | None,
    after: IdentitySecretRecord | None,
) -> audit.Entry:
    # The messages carry no secret (it is passed only to the create and reveal answers), and
    # the audit log would redact one anyway.
    return _service_child_change(
        action,
        "identity_secret",
        service,
        None if before is None else identity_secret_message(before),
        None if after is None else identity_secret_message(after),
    )


def _service_child_change(
    action: str,
    resource_type: str,
    service: ServiceRecord,
    before: pb.Token | pb.IdentitySecret | None,
    after: pb.Token | pb.IdentitySecret | None,
) -> audit.Entry:
    changed = after or before
    assert changed is not None  # a change has a before or an after
    return audit.change(
        action,
        resource_type,
        changed.id,
        before,
        after,
        parent=f"parent_segments/{service.parent_segment_id}/services/{service.id}",
    )
