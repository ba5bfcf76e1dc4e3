"""The auth service's two questions to the profile service.

``ListEventTables`` feeds the directory's background refresh (which event tables belong to
which parent segment, for the ingest preflight); it is asked on the auth service's own
behalf. ``GetParentSegment`` resolves the reactor a new service belongs to; it is asked on
the caller's behalf, so the profile service applies the caller's account and role.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import code_pb2
from p13n.profile.v1 import config_service_pb2, internal_service_pb2

from services.common.callers import AUTH
from services.common.clients import as_service, on_behalf_of_caller
from services.common.errors import parent_segment_not_found
from services.common.remote_errors import translate, unavailable

# Signed as the component its certificate names.
SERVICE = AUTH
# A registry request waits this long for the profile service, reconnecting if need be.
PARENT_SEGMENT_TIMEOUT = 5.0

_PROFILE_DOWN = unavailable("The profile service cannot answer; retry shortly")

EventTables = dict[tuple[str, str], set[str]]


class ProfileClient:
    """The profile service as the auth service uses it.

    ``profile`` is an ``InternalProfileServiceStub``, ``config`` a ``ConfigServiceStub``; ``key``
    signs the calls the auth service makes on its own behalf.
    """

    def __init__(self, profile: Any, config: Any, key: bytes) -> None:
        self._profile = profile
        self._config = config
        self._key = key

    async def event_tables(self, budget: float, patient: bool) -> EventTables:
        """Parent segment ids per ``(database, table)`` of every event definition."""
        reply = await self._profile.ListEventTables(
            internal_service_pb2.ListEventTablesRequest(),
            metadata=as_service(SERVICE, self._key),
            timeout=budget,
            # The background poll waits out a reconnect (the profile service may start
            # after us); a preflight cannot wait.
            wait_for_ready=patient,
        )
        tables: EventTables = {}
        for table in reply.tables:
            tables.setdefault((table.database, table.table), set()).add(table.parent_segment_id)
        return tables

    async def reactor_id_of(self, parent_segment_id: str) -> str:
        """The reactor of a parent segment, as the current caller may see it."""
        try:
            segment = await self._config.GetParentSegment(
                config_service_pb2.GetParentSegmentRequest(parent_segment_id=parent_segment_id),
                metadata=on_behalf_of_caller(),
                timeout=PARENT_SEGMENT_TIMEOUT,
                wait_for_ready=True,
            )
        except grpc.aio.AioRpcError as error:
            # Only "no such parent segment" is the caller's; any other answer means the
            # profile service could not answer this, whatever it said.
            not_found = parent_segment_not_found(parent_segment_id)
            raise translate(
                error,
                outage=_PROFILE_DOWN,
                verdicts={code_pb2.NOT_FOUND: lambda _: not_found},
                otherwise=_PROFILE_DOWN,
            ) from None
        return str(segment.reactor_id)
