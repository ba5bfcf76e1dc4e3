"""The offers service's two questions to the profile service, and what it makes of the answers.

``Track`` is the data path's one round trip: it stores the event (or, for preview, only
computes), stitches the profile and returns its attributes, segments and the event
definitions the event matched. It carries the caller's identity, re-signed as the offers
service's so that the internal service accepts it. ``GetRealtimeConfig`` is asked on the
service's own behalf: it answers the parent segment's catalog, from which personalizations
are validated and compiled.
"""

from __future__ import annotations

import json
import math
from typing import Any

import grpc
from p13n.profile.v1 import internal_service_pb2 as api
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common.callers import OFFERS
from services.common.clients import as_service, on_behalf_of_caller_as
from services.common.events import MAX_EXACT_INTEGER
from services.offers.catalog import Attribute, AttributeType, Catalog, ProfileView, Sensitivity
from services.offers.upstream import failure

# Signed as the component its certificate names.
SERVICE = OFFERS

_TYPES: dict[int, AttributeType] = {
    pb.SINGLE: AttributeType.SINGLE,
    pb.LIST: AttributeType.LIST,
    pb.COUNTER: AttributeType.COUNTER,
    pb.IMPORTED: AttributeType.IMPORTED,
}
_SENSITIVITIES: dict[int, Sensitivity] = {
    pb.SENSITIVE: Sensitivity.SENSITIVE,
    pb.NON_SENSITIVE: Sensitivity.NON_SENSITIVE,
}


class ProfileClient:
    """The profile service as the offers service uses it.

    ``stub`` is an ``InternalProfileServiceStub``.
    """

    def __init__(self, stub: Any, key: bytes) -> None:
        self._stub = stub
        self._key = key

    async def track(self, request: api.TrackRequest, budget: float) -> api.TrackResponse:
        try:
            response: api.TrackResponse = await self._stub.Track(
                request, metadata=on_behalf_of_caller_as(SERVICE, self._key), timeout=budget
            )
        except grpc.aio.AioRpcError as error:
            raise failure(error, "profile") from None
        return response

    async def realtime_config(self, parent_segment_id: str, budget: float) -> api.RealtimeConfig:
        try:
            config: api.RealtimeConfig = await self._stub.GetRealtimeConfig(
                api.GetRealtimeConfigRequest(parent_segment_id=parent_segment_id),
                metadata=as_service(SERVICE, self._key),
                timeout=budget,
            )
        except grpc.aio.AioRpcError as error:
            raise failure(error, "profile") from None
        return config


def catalog_of(config: api.RealtimeConfig) -> Catalog:
    """The names a personalization of this parent segment may use, with their sensitivity.

    An attribute of a type this code does not know is left out: a section naming it is
    refused on save, and on the public path an unknown name counts as sensitive.
    """
    attributes = {}
    for attribute in config.attributes:
        kind = _TYPES.get(attribute.type)
        if kind is None:
            continue
        attributes[attribute.name] = Attribute(
            kind,
            _sensitivity(attribute.sensitivity),
            {a.name: _sensitivity(a.sensitivity) for a in attribute.list.aggregations},
            max_items=attribute.list.max_items or 100,
        )
    return Catalog(
        attributes=attributes,
        segments={s.name: _sensitivity(s.sensitivity) for s in config.segments},
        events=frozenset(e.name for e in config.events),
    )


def _sensitivity(value: int) -> Sensitivity:
    # Anything but an explicit choice is UNSPECIFIED, which redaction treats as sensitive.
    return _SENSITIVITIES.get(value, Sensitivity.UNSPECIFIED)


def view_of(response: api.TrackResponse) -> ProfileView:
    """The profile as Track answered it.

    The values are read as they are: rendering passes every value it answers through
    ``to_json`` (integral floats as ints, non-finite ones as null), and criteria compare
    numbers by value. Only integers beyond 2**53 become doubles, as every number was when
    Track carried a ``google.protobuf.Struct``: a browser reads them as doubles anyway.
    """
    values = _VALUES.decode(response.attributes_json) if response.attributes_json else {}
    return ProfileView(
        attributes=values if isinstance(values, dict) else {},
        segments=frozenset(response.segments),
    )


def _integer(text: str) -> int | float:
    value = int(text)
    if -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
        return value
    try:
        return float(value)
    except OverflowError:  # rendering prints a non-finite number as null
        return math.inf if value > 0 else -math.inf


_VALUES = json.JSONDecoder(parse_int=_integer)
