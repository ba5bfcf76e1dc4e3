"""The other services' questions to the profile service (never exposed through the gateway).

Offers stores events and reads catalogs here (``Track``, ``GetRealtimeConfig``); auth reads
the event tables its ingest preflight decides with (``ListEventTables``). Every method is
``Access.INTERNAL``: only a caller signed as a p13n service reaches a handler, and ``Track``
still reads the end caller's account from the identity offers re-signed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import internal_service_pb2 as api
from p13n.profile.v1 import internal_service_pb2_grpc
from typing_extensions import override

from services.common import audit, events
from services.common import identity as identities
from services.profile import proofs
from services.profile.profile_store import ProfileStore

# A public service's identity secrets, by the service's id (``AuthClient.identity_secrets``).
SecretsLookup = Callable[[str], Awaitable[tuple[str, ...]]]


async def no_secrets(_service_id: str) -> tuple[str, ...]:
    """No service has secrets: every proof fails (the safe default for tests)."""
    return ()


class InternalProfileServicer(internal_service_pb2_grpc.InternalProfileServiceServicer):
    def __init__(
        self,
        store: ProfileStore,
        clock: Callable[[], float] = time.time,
        identity_secrets: SecretsLookup = no_secrets,
        audit_log: audit.AuditLog | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._identity_secrets = identity_secrets
        self._audit_log = audit_log

    async def _proofs(
        self, caller: identity_pb2.Identity | None, given: dict[str, str]
    ) -> proofs.Proofs | None:
        """What the event's verified identifiers are checked with; None: a trusted caller.

        Fails closed: only a caller positively holding a private credential is trusted; one
        with no identity, or a service's own call, proves like anyone else and cannot.
        """
        if proofs.trusted(caller):
            return None
        if caller is None or caller.token_type != identity_pb2.TOKEN_TYPE_PUBLIC:
            return proofs.UNPROVABLE
        # Asked only when the event offers proofs: anonymous traffic never reaches auth.
        secrets = await self._identity_secrets(caller.service_id) if given else ()
        return proofs.Proofs(given, secrets)

    @override
    async def Track(self, request: api.TrackRequest, context: Any) -> api.TrackResponse:
        event, given = proofs.take(events.checked(request.event))
        now = self._clock()  # the server's receive time; a client `time` is only kept
        caller = identities.current.get()
        account_id = caller.account_id if caller else ""
        if request.dry_run:
            return await self._store.preview_track(
                account_id,
                request.parent_segment_id,
                request.database,
                request.table,
                event[0],
                now,
            )
        return await self._store.track(
            account_id,
            request.parent_segment_id,
            request.database,
            request.table,
            event,
            now,
            remaining=context.time_remaining(),
            proven=await self._proofs(caller, given),
        )

    @override
    async def GetRealtimeConfig(
        self, request: api.GetRealtimeConfigRequest, context: Any
    ) -> api.RealtimeConfig:
        return await self._store.realtime_config(request.parent_segment_id)

    @override
    async def ListEventTables(
        self, request: api.ListEventTablesRequest, context: Any
    ) -> api.ListEventTablesResponse:
        return api.ListEventTablesResponse(tables=await self._store.event_tables())

    @override
    async def ListAuditEntries(
        self, request: api.ListAuditEntriesRequest, context: Any
    ) -> api.ListAuditEntriesResponse:
        found = await self._audit_log.answer(request) if self._audit_log else []
        return api.ListAuditEntriesResponse(entries=found)
