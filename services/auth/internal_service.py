"""Questions the other services ask the auth service (never exposed through the gateway)."""

from __future__ import annotations

from typing import Any

from p13n.auth.v1 import internal_service_pb2, internal_service_pb2_grpc
from typing_extensions import override

from services.auth.directory import Identity, MemoryDirectory
from services.auth.store_protocols import AccountStore
from services.common.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)


class InternalAuthServicer(internal_service_pb2_grpc.InternalAuthServiceServicer):
    def __init__(self, store: AccountStore, directory: MemoryDirectory) -> None:
        self._store = store
        self._directory = directory

    @override
    async def AuthenticateCall(
        self, request: internal_service_pb2.AuthenticateCallRequest, context: Any
    ) -> internal_service_pb2.AuthenticateCallResponse:
        """The same rules as the gateway's, for a call that did not pass through it."""
        if request.kind == internal_service_pb2.CALL_KIND_PERSONALIZE:
            if not request.token:
                raise Unauthenticated(
                    "Missing wp13n-token metadata: expected account_id/reactor_id/secret",
                    reason="NO_TOKEN",
                )
            identity = self._directory.identify_token(request.token)
            self._check_rate(identity, request.peer_ip)
            if identity is None:
                raise Unauthenticated("Unknown, malformed or revoked token", reason="BAD_TOKEN")
            if not self._directory.token_allows_ip(identity, request.peer_ip):
                raise PermissionDenied(
                    "This token may not be used from this address", reason="IP_NOT_ALLOWED"
                )
        elif request.kind == internal_service_pb2.CALL_KIND_INGEST:
            found = self._directory.identify_credentials(request.authorization)
            self._check_rate(found, request.peer_ip)
            if found is None or not found.api_key_type:
                raise Unauthenticated(
                    "Missing or unknown API key: send authorization metadata TD1 <API key>",
                    reason="BAD_API_KEY",
                )
            identity = found
        else:
            raise InvalidArgument("Call kind can't be blank", field="kind")
        return internal_service_pb2.AuthenticateCallResponse(identity=identity)

    def _check_rate(self, identity: Identity | None, peer_ip: str) -> None:
        """The gateway's rate limits, per token and per address (failures included)."""
        if self._directory.rate_limited(identity, peer_ip):
            raise ResourceExhausted(
                "Too many requests; slow down and retry later", reason="RATE_LIMITED"
            )

    @override
    async def GetAccountFlags(
        self, request: internal_service_pb2.GetAccountFlagsRequest, context: Any
    ) -> internal_service_pb2.GetAccountFlagsResponse:
        account_id = int(request.account_id) if request.account_id.isdigit() else -1
        flags = await self._store.account_flags(account_id)
        if flags is None:
            raise NotFound(f"Account {request.account_id!r} not found")
        return internal_service_pb2.GetAccountFlagsResponse(flags=flags)
