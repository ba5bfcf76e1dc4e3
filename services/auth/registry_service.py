"""Personalization services and their tokens (DESIGN §3, §4 "Services and tokens")."""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
from google.protobuf import empty_pb2
from p13n.auth.v1 import personalization_service_pb2 as pb
from p13n.auth.v1 import registry_service_pb2, registry_service_pb2_grpc

from services.auth import secrets, validation
from services.auth.directory import MemoryDirectory
from services.auth.identity_service import caller
from services.auth.store import ServiceRow, TokenRow, bump_generation
from services.common.convert import path_id, timestamp
from services.common.errors import InvalidArgument, NotFound
from services.common.paging import page_after, page_size
from services.common.storage import Database, fetch_all, fetch_one

log = logging.getLogger(__name__)

# Looks up a parent segment through the profile service's contract: its reactor id.
ParentSegmentLookup = Callable[[str], Awaitable[str]]

_TYPES = {
    pb.PUBLIC: validation.ServiceType.PUBLIC,
    pb.PRIVATE: validation.ServiceType.PRIVATE,
}
_TYPE_ENUM = {v.value: k for k, v in _TYPES.items()}
_UPDATABLE = {"name", "description", "allowed_origins", "rate_limit", "type"}
MAX_RATE = 100_000


def _who() -> str:
    """The caller as an audit line names it: ids only, never a credential."""
    me = caller()
    if me.user_id:
        return f"user {me.user_id}"
    return f"an API key of account {me.account_id}"


def _populated(service: pb.PersonalizationService) -> set[str]:
    """AIP-134: without an update mask, the fields the caller set are the ones to update."""
    return {field.name for field, _ in service.ListFields()} & _UPDATABLE


def _service_message(row: ServiceRow) -> pb.PersonalizationService:
    return pb.PersonalizationService(
        id=str(row.id),
        parent_segment_id=row.parent_segment_id,
        name=row.name,
        description=row.description,
        type=_TYPE_ENUM[row.type],
        allowed_origins=row.allowed_origins,
        rate_limit=pb.RateLimit(requests_per_second=row.rate_per_second, burst=row.rate_burst),
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
    )


def _token_message(row: TokenRow, token: str = "") -> pb.Token:
    return pb.Token(
        id=str(row.id),
        service_id=str(row.service_id),
        name=row.name,
        allowed_ips=row.allowed_ips,
        token=token,
        create_time=timestamp(row.create_time),
    )


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
        db: Database,
        directory: MemoryDirectory,
        keys: secrets.SecretKeys,
        parent_segment: ParentSegmentLookup,
    ) -> None:
        self._db = db
        self._directory = directory
        self._keys = keys
        self._parent_segment = parent_segment

    async def _service(
        self, db: aiosqlite.Connection, parent_segment_id: str, service_id: str
    ) -> ServiceRow:
        row = await fetch_one(
            db,
            "SELECT * FROM services WHERE id = ? AND account_id = ? AND parent_segment_id = ?",
            path_id(service_id),
            int(caller().account_id),
            parent_segment_id,
        )
        if row is None:
            raise NotFound(
                f"Service {service_id!r} not found in parent segment {parent_segment_id!r}"
            )
        return ServiceRow.from_row(row)

    async def _other_service_names(
        self, db: aiosqlite.Connection, parent_segment_id: str, except_id: int = -1
    ) -> list[str]:
        rows = await fetch_all(
            db,
            "SELECT name FROM services WHERE account_id = ? AND parent_segment_id = ? AND id != ?",
            int(caller().account_id),
            parent_segment_id,
            except_id,
        )
        return [row["name"] for row in rows]

    async def _flags(self, db: aiosqlite.Connection) -> set[str]:
        rows = await fetch_all(
            db, "SELECT flag FROM account_flags WHERE account_id = ?", int(caller().account_id)
        )
        return {row["flag"] for row in rows}

    async def CreateService(
        self, request: registry_service_pb2.CreateServiceRequest, context: Any
    ) -> pb.PersonalizationService:
        me = caller()
        service = request.service
        service_type = _TYPES.get(service.type)
        async with self._db.reading() as db:
            validation.check_service_type_allowed(service_type, await self._flags(db))
        assert service_type is not None
        origins = validation.validate_service_allowed_origins(
            service_type, list(service.allowed_origins)
        )
        rate, burst = _rate_limit(service.rate_limit)
        reactor_id = await self._parent_segment(request.parent_segment_id)
        now = time.time()
        async with self._db.transaction() as db:
            name = validation.validate_name(
                service.name, await self._other_service_names(db, request.parent_segment_id)
            )
            cursor = await db.execute(
                "INSERT INTO services (account_id, parent_segment_id, reactor_id, name, description, "
                "type, allowed_origins, rate_per_second, rate_burst, create_time, update_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(me.account_id),
                    request.parent_segment_id,
                    reactor_id,
                    name,
                    service.description,
                    service_type.value,
                    json.dumps(origins),
                    rate,
                    burst,
                    now,
                    now,
                ),
            )
            row = await self._service(db, request.parent_segment_id, str(cursor.lastrowid))
            await bump_generation(db)
        await self._directory.reload()
        return _service_message(row)

    async def GetService(
        self, request: registry_service_pb2.GetServiceRequest, context: Any
    ) -> pb.PersonalizationService:
        async with self._db.reading() as db:
            return _service_message(
                await self._service(db, request.parent_segment_id, request.service_id)
            )

    async def ListServices(
        self, request: registry_service_pb2.ListServicesRequest, context: Any
    ) -> registry_service_pb2.ListServicesResponse:
        size = page_size(request.page_size)
        after = page_after(request.page_token)
        async with self._db.reading() as db:
            rows = await fetch_all(
                db,
                "SELECT * FROM services WHERE account_id = ? AND parent_segment_id = ? AND id > ? "
                "ORDER BY id LIMIT ?",
                int(caller().account_id),
                request.parent_segment_id,
                after,
                size + 1,
            )
        services = [ServiceRow.from_row(row) for row in rows]
        more = len(services) > size
        services = services[:size]
        return registry_service_pb2.ListServicesResponse(
            services=[_service_message(s) for s in services],
            next_page_token=str(services[-1].id) if more else "",
        )

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
        async with self._db.transaction() as db:
            current = await self._service(db, request.parent_segment_id, request.service_id)
            current_type = validation.ServiceType(current.type)
            if "type" in paths:
                validation.check_service_type_unchanged(current_type, _TYPES.get(changes.type))
            name = current.name
            if "name" in paths:
                name = validation.validate_name(
                    changes.name,
                    await self._other_service_names(db, request.parent_segment_id, current.id),
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
            await db.execute(
                "UPDATE services SET name = ?, description = ?, allowed_origins = ?, "
                "rate_per_second = ?, rate_burst = ?, update_time = ? WHERE id = ?",
                (name, description, json.dumps(origins), rate, burst, time.time(), current.id),
            )
            row = await self._service(db, request.parent_segment_id, request.service_id)
            await bump_generation(db)
        await self._directory.reload()
        return _service_message(row)

    async def DeleteService(
        self, request: registry_service_pb2.DeleteServiceRequest, context: Any
    ) -> empty_pb2.Empty:
        async with self._db.transaction() as db:
            current = await self._service(db, request.parent_segment_id, request.service_id)
            await db.execute("DELETE FROM services WHERE id = ?", (current.id,))
            await bump_generation(db)
        await self._directory.reload()
        log.info("service %s and its tokens deleted by %s", current.id, _who())
        return empty_pb2.Empty()

    async def CreateToken(
        self, request: registry_service_pb2.CreateTokenRequest, context: Any
    ) -> pb.Token:
        token = request.token
        now = time.time()
        async with self._db.transaction() as db:
            service = await self._service(db, request.parent_segment_id, request.service_id)
            service_type = validation.ServiceType(service.type)
            # The m2-1 flag covers public services and their tokens.
            validation.check_service_type_allowed(service_type, await self._flags(db))
            names = await fetch_all(db, "SELECT name FROM tokens WHERE service_id = ?", service.id)
            name = validation.validate_name(token.name, [row["name"] for row in names])
            allowed_ips = validation.validate_token_allowed_ips(
                service_type, list(token.allowed_ips)
            )
            in_segment = await fetch_one(
                db,
                "SELECT COUNT(*) AS n FROM tokens t JOIN services s ON s.id = t.service_id "
                "WHERE s.account_id = ? AND s.parent_segment_id = ?",
                service.account_id,
                service.parent_segment_id,
            )
            validation.check_token_limits(
                tokens_in_service=len(names),
                tokens_in_parent_segment=in_segment["n"] if in_segment else 0,
            )
            kind = (
                secrets.SecretKind.PUBLIC_TOKEN
                if service_type is validation.ServiceType.PUBLIC
                else secrets.SecretKind.PRIVATE_TOKEN
            )
            secret = secrets.generate_secret(kind)
            cursor = await db.execute(
                "INSERT INTO tokens (service_id, name, allowed_ips, lookup_hash, encrypted_secret, "
                "create_time) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    service.id,
                    name,
                    json.dumps(allowed_ips),
                    self._keys.lookup_hash(secret),
                    b"",
                    now,
                ),
            )
            token_id = int(cursor.lastrowid or 0)
            # The encrypted copy is bound to its record id, which exists only after the insert.
            await db.execute(
                "UPDATE tokens SET encrypted_secret = ? WHERE id = ?",
                (self._keys.encrypt(secret, str(token_id)), token_id),
            )
            row = await self._token(db, service, str(token_id))
            await bump_generation(db)
        await self._directory.reload()
        log.info("token %s created in service %s by %s", row.id, service.id, _who())
        full = secrets.make_token(str(service.account_id), service.reactor_id, secret)
        return _token_message(row, full.reveal())

    async def _token(
        self, db: aiosqlite.Connection, service: ServiceRow, token_id: str
    ) -> TokenRow:
        row = await fetch_one(
            db,
            "SELECT * FROM tokens WHERE id = ? AND service_id = ?",
            path_id(token_id),
            service.id,
        )
        if row is None:
            raise NotFound(f"Token {token_id!r} not found in service {service.id}")
        return TokenRow.from_row(row)

    async def ListTokens(
        self, request: registry_service_pb2.ListTokensRequest, context: Any
    ) -> registry_service_pb2.ListTokensResponse:
        size = page_size(request.page_size)
        after = page_after(request.page_token)
        async with self._db.reading() as db:
            service = await self._service(db, request.parent_segment_id, request.service_id)
            rows = await fetch_all(
                db,
                "SELECT * FROM tokens WHERE service_id = ? AND id > ? ORDER BY id LIMIT ?",
                service.id,
                after,
                size + 1,
            )
        tokens = [TokenRow.from_row(row) for row in rows]
        more = len(tokens) > size
        tokens = tokens[:size]
        return registry_service_pb2.ListTokensResponse(
            tokens=[_token_message(t) for t in tokens],
            next_page_token=str(tokens[-1].id) if more else "",
        )

    async def DeleteToken(
        self, request: registry_service_pb2.DeleteTokenRequest, context: Any
    ) -> empty_pb2.Empty:
        async with self._db.transaction() as db:
            service = await self._service(db, request.parent_segment_id, request.service_id)
            token = await self._token(db, service, request.token_id)
            await db.execute("DELETE FROM tokens WHERE id = ?", (token.id,))
            await bump_generation(db)
        await self._directory.reload()
        log.info("token %s of service %s deleted by %s", token.id, service.id, _who())
        return empty_pb2.Empty()

    async def RevealToken(
        self, request: registry_service_pb2.RevealTokenRequest, context: Any
    ) -> pb.Token:
        me = caller()
        async with self._db.reading() as db:
            session = await fetch_one(
                db, "SELECT authenticated_time FROM sessions WHERE id = ?", path_id(me.session_id)
            )
            authenticated = (
                datetime.datetime.fromtimestamp(session["authenticated_time"], datetime.UTC)
                if session
                else None
            )
            validation.require_recent_authentication(
                authenticated, datetime.datetime.now(datetime.UTC)
            )
            service = await self._service(db, request.parent_segment_id, request.service_id)
            token = await self._token(db, service, request.token_id)
        secret = self._keys.decrypt(token.encrypted_secret, str(token.id))
        log.info("token %s of service %s revealed to %s", token.id, service.id, _who())
        full = secrets.make_token(str(service.account_id), service.reactor_id, secret)
        return _token_message(token, full.reveal())
