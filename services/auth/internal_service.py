"""Questions the other services ask the auth service (never exposed through the gateway)."""

from __future__ import annotations

from typing import Any

from p13n.auth.v1 import internal_service_pb2, internal_service_pb2_grpc
from typing_extensions import override

from services.auth.directory import MemoryDirectory
from services.auth.secrets import SecretKeys, identity_secret_record
from services.auth.store_protocols import InternalStore
from services.common.errors import InvalidArgument, NotFound


class InternalAuthServicer(internal_service_pb2_grpc.InternalAuthServiceServicer):
    def __init__(self, store: InternalStore, directory: MemoryDirectory, keys: SecretKeys) -> None:
        self._store = store
        self._directory = directory
        self._keys = keys

    @override
    async def GetIdentitySecrets(
        self, request: internal_service_pb2.GetIdentitySecretsRequest, context: Any
    ) -> internal_service_pb2.GetIdentitySecretsResponse:
        # The service id comes from an identity the auth service signed; an unknown, private
        # or secret-less service has no secrets, so every proof for it fails.
        if not request.service_id.isdigit():
            return internal_service_pb2.GetIdentitySecretsResponse()
        async with self._store.registry_reading() as reader:
            records = await reader.public_identity_secrets(int(request.service_id))
        values = [
            self._keys.decrypt(r.encrypted_secret, identity_secret_record(r.id)).reveal()
            for r in records
        ]
        return internal_service_pb2.GetIdentitySecretsResponse(secrets=values)

    @override
    async def GetAccountFlags(
        self, request: internal_service_pb2.GetAccountFlagsRequest, context: Any
    ) -> internal_service_pb2.GetAccountFlagsResponse:
        account_id = int(request.account_id) if request.account_id.isdigit() else -1
        flags = await self._store.account_flags(account_id)
        if flags is None:
            raise NotFound(f"Account {request.account_id!r} not found")
        return internal_service_pb2.GetAccountFlagsResponse(flags=flags)

    @override
    async def CheckCredential(
        self, request: internal_service_pb2.CheckCredentialRequest, context: Any
    ) -> internal_service_pb2.CheckCredentialResponse:
        # From the in-memory directory only: asked about once a second per running stream,
        # and it follows deletions within the directory's refresh period.
        which = request.WhichOneof("credential")
        if which == "api_key_id" and request.api_key_id:
            valid = self._directory.api_key_exists(request.api_key_id)
        elif which == "session_id" and request.session_id:
            valid = self._directory.session_valid(request.session_id)
        else:
            raise InvalidArgument("Name an API key or a session", field="credential")
        return internal_service_pb2.CheckCredentialResponse(valid=valid)
