"""The Ingest API: 1 to 500 events for one table, all or nothing, answered once durable.

Through the gateway the caller is the API key's signed identity; a direct gRPC caller is
authenticated by the auth service (``direct_authenticator``). Records are decoded and
checked before the transaction (JSON object, nesting, 1 MiB each); that every record has a
usable identifier in every parent segment it goes to is checked inside it, against the
configuration of that moment, before anything is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from google.rpc import code_pb2
from p13n.auth.v1 import internal_service_pb2, internal_service_pb2_grpc
from p13n.profile.v1 import ingest_service_pb2 as api
from p13n.profile.v1 import ingest_service_pb2_grpc
from typing_extensions import override

from services.common import events
from services.common import identity as identities
from services.common.access import DirectAuthenticator
from services.common.direct_auth import DirectCall, auth_service_authenticator
from services.common.errors import InvalidArgument, PermissionDenied, Unauthenticated
from services.common.remote_errors import Rule, translate, unavailable
from services.profile import config_rules
from services.profile.profile_store import ProfileStore

MAX_RECORDS = 500


class IngestServicer(ingest_service_pb2_grpc.IngestServiceServicer):
    def __init__(self, store: ProfileStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    @override
    async def IngestRecords(
        self, request: api.IngestRecordsRequest, context: Any
    ) -> api.IngestRecordsResponse:
        caller = identities.current.get()
        if caller is None or not caller.api_key_type or not caller.account_id:
            raise PermissionDenied(
                "The Ingest API takes an API key: Authorization: TD1 <API key>",
                reason="API_KEY_REQUIRED",
            )
        config_rules.check_table_name("Database", request.database, "database")
        config_rules.check_table_name("Table", request.table, "table")
        count = len(request.records)
        if not 1 <= count <= MAX_RECORDS:
            raise InvalidArgument(
                f"A request carries 1 to {MAX_RECORDS} records (got {count}); split larger batches",
                reason="RECORD_COUNT",
                field="records",
            )
        records = [
            events.checked(record, f"records[{index}]")
            for index, record in enumerate(request.records)
        ]
        received = await self._store.ingest(
            caller.account_id,
            request.database,
            request.table,
            records,
            self._clock(),
            remaining=context.time_remaining(),
        )
        return api.IngestRecordsResponse(received=received)


# A direct Ingest call carries the API key as a gateway call does: ``Authorization: TD1 <key>``.
DIRECT_CALL = DirectCall(
    service="profile",
    kind=internal_service_pb2.CALL_KIND_INGEST,
    metadata_key="authorization",
    request_field="authorization",
    missing_message="Missing authorization metadata: expected TD1 <API key>",
    missing_reason="NO_CREDENTIALS",
    timeout=2,
)


def direct_authenticator(
    auth: internal_service_pb2_grpc.InternalAuthServiceStub, key: bytes
) -> DirectAuthenticator:
    """Authenticates a direct (not gateway) call by asking the auth service, as Envoy does."""
    return auth_service_authenticator(auth, key, DIRECT_CALL, _refusal)


_AUTH_DOWN = unavailable("The auth service cannot answer; retry shortly")
_REFUSALS: Mapping[int, Rule] = {
    code_pb2.UNAUTHENTICATED: lambda refused: Unauthenticated(
        refused.message or "Unknown API key", reason="BAD_API_KEY"
    ),
    code_pb2.PERMISSION_DENIED: lambda _: PermissionDenied(reason="CALL_REFUSED"),
}


def _refusal(error: grpc.aio.AioRpcError) -> Exception:
    # Only a refused key or call is the caller's; any other answer is auth not answering.
    return translate(error, outage=_AUTH_DOWN, verdicts=_REFUSALS, otherwise=_AUTH_DOWN)
