"""Questions the other services ask the auth service (never exposed through the gateway)."""

from __future__ import annotations

from typing import Any

from p13n.auth.v1 import internal_service_pb2, internal_service_pb2_grpc
from typing_extensions import override

from services.auth.store_protocols import AccountStore
from services.common.errors import NotFound


class InternalAuthServicer(internal_service_pb2_grpc.InternalAuthServiceServicer):
    def __init__(self, store: AccountStore) -> None:
        self._store = store

    @override
    async def GetAccountFlags(
        self, request: internal_service_pb2.GetAccountFlagsRequest, context: Any
    ) -> internal_service_pb2.GetAccountFlagsResponse:
        account_id = int(request.account_id) if request.account_id.isdigit() else -1
        flags = await self._store.account_flags(account_id)
        if flags is None:
            raise NotFound(f"Account {request.account_id!r} not found")
        return internal_service_pb2.GetAccountFlagsResponse(flags=flags)
