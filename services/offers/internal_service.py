"""The other services' questions to the offers service (never exposed through the gateway).

The profile service asks ``ListReferences`` before it deletes an attribute, an aggregation,
a segment or an event definition, and refuses the deletion while a personalization uses
it. Every method is ``Access.INTERNAL``: only a caller signed as a p13n service reaches a
handler.
"""

from __future__ import annotations

from typing import Any

from p13n.offers.v1 import internal_service_pb2 as api
from p13n.offers.v1 import internal_service_pb2_grpc
from typing_extensions import override

from services.common.errors import InvalidArgument
from services.offers.redaction import references
from services.offers.store import PersonalizationStore, Record


class InternalOffersServicer(internal_service_pb2_grpc.InternalOffersServiceServicer):
    def __init__(self, store: PersonalizationStore) -> None:
        self._store = store
        self._audit_log = store.audit_log()

    @override
    async def ListAuditEntries(
        self, request: api.ListAuditEntriesRequest, context: Any
    ) -> api.ListAuditEntriesResponse:
        return api.ListAuditEntriesResponse(entries=await self._audit_log.answer(request))

    @override
    async def ListReferences(
        self, request: api.ListReferencesRequest, context: Any
    ) -> api.ListReferencesResponse:
        # Every caller names the segment it deletes from; an empty id would search nothing
        # and answer "unused", which would let a deletion through.
        if not request.parent_segment_id:
            raise InvalidArgument(
                "Parent segment id can't be blank: name the parent segment to search",
                field="parent_segment_id",
            )
        if not (request.attribute or request.segment or request.event):
            raise InvalidArgument("Name an attribute, a segment or an event", field="attribute")
        records = await self._store.records(request.parent_segment_id)
        return api.ListReferencesResponse(
            personalization_names=[r.name for r in records if _refers_to(r, request)]
        )


def _refers_to(record: Record, request: api.ListReferencesRequest) -> bool:
    if request.event and request.event in record.trigger_events:
        return True
    for kind, name, aggregation in references(list(record.sections)):
        if kind == "segment" and name == request.segment:
            return True
        # A field naming a LIST without an aggregation renders all of them, so it refers
        # to each one.
        if (
            kind == "attribute"
            and name == request.attribute
            and (not request.aggregation or aggregation in (None, request.aggregation))
        ):
            return True
    return False
