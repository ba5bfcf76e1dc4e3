"""The profile service's question to the offers service: what references this?

Deleting an attribute, an aggregation or a segment that a personalization uses would break
the personalization, so the profile service asks first. It fails closed: when the offers
service cannot answer, nothing is deleted.
"""

from __future__ import annotations

from typing import Any

import grpc
from p13n.offers.v1 import internal_service_pb2

from services.common.callers import PROFILE
from services.common.clients import as_service
from services.common.remote_errors import translate, unavailable

# Signed as the component its certificate names.
SERVICE = PROFILE
REFERENCES_TIMEOUT = 5.0
_OFFERS_DOWN = unavailable(
    "The offers service cannot confirm that nothing references this; retry shortly"
)


class OffersClient:
    """The offers service as the profile service uses it.

    ``stub`` is an ``InternalOffersServiceStub``.
    """

    def __init__(self, stub: Any, key: bytes) -> None:
        self._stub = stub
        self._key = key

    async def references(self, parent_segment_id: str, **reference: str) -> list[str]:
        """Names of the personalizations that use ``reference`` (one keyword: its kind)."""
        try:
            reply = await self._stub.ListReferences(
                internal_service_pb2.ListReferencesRequest(
                    parent_segment_id=parent_segment_id, **reference
                ),
                metadata=as_service(SERVICE, self._key),
                timeout=REFERENCES_TIMEOUT,
            )
        except grpc.aio.AioRpcError as error:
            # An outage refuses the delete (fail closed); any other answer to this internal
            # question is a fault here, logged as INTERNAL rather than hidden as a retry.
            raise translate(error, outage=_OFFERS_DOWN, verdicts={}) from None
        return list(reply.personalization_names)
