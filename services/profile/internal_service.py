"""The other services' questions to the profile service (never exposed through the gateway).

Offers stores events and reads catalogs here (``Track``, ``GetRealtimeConfig``); auth reads
the event tables its ingest preflight decides with (``ListEventTables``). Every method is
``Access.INTERNAL``: only a caller signed as a p13n service reaches a handler, and ``Track``
still reads the end caller's account from the identity offers re-signed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from p13n.profile.v1 import internal_service_pb2 as api
from p13n.profile.v1 import internal_service_pb2_grpc
from typing_extensions import override

from services.common import audit, events
from services.common import identity as identities
from services.profile.profile_store import ProfileStore


class InternalProfileServicer(internal_service_pb2_grpc.InternalProfileServiceServicer):
    def __init__(
        self,
        store: ProfileStore,
        clock: Callable[[], float] = time.time,
        audit_log: audit.AuditLog | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit_log = audit_log

    @override
    async def Track(self, request: api.TrackRequest, context: Any) -> api.TrackResponse:
        event = events.checked(request.event)
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
