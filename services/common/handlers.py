"""Registering a servicer with two liberties the generated ``add_…_to_server`` lacks.

1. A request the protobuf runtime refuses to decode is refused with INVALID_ARGUMENT (after
   the access check, like any request) instead of gRPC's INTERNAL, which the gateway would
   print as a 500. The runtime refuses messages nested over 100 levels, and a JSON level of
   an event costs about three inside a ``google.protobuf.Struct``, so an event nested some
   34 levels deep cannot even be decoded.
2. A handler may answer pre-encoded ``bytes``. Protobuf maps (``map<string, Offer>``, and the
   ``Struct`` inside) serialize in hash order, while the transcoder prints JSON objects in
   the order their entries arrive on the wire; a service whose answer's order matters
   encodes it itself (see ``services/offers/wire.py``).

Only unary methods are supported; a streaming one fails loudly at registration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from services.common.errors import InvalidArgument


class _Undecodable:
    def __repr__(self) -> str:
        return "UNDECODABLE"


_UNDECODABLE: Any = _Undecodable()


def _refusing_undecodable(method: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """``method``, refusing a request that could not be decoded before it runs."""

    async def checked(request: Any, context: Any) -> Any:
        if request is _UNDECODABLE:
            raise InvalidArgument(
                "The request could not be decoded: events may be nested at most 32 levels deep",
                reason="UNDECODABLE_REQUEST",
            )
        return await method(request, context)

    return checked


def register(service: ServiceDescriptor) -> Callable[[Any, grpc.aio.Server], None]:
    """An ``add(servicer, server)`` for ``Registration`` that registers every method of
    ``service`` with a tolerant deserializer and a serializer that passes bytes through."""

    def add(servicer: Any, server: grpc.aio.Server) -> None:
        handlers = {}
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                raise ValueError(f"{method.full_name} streams; register it the generated way")
            request_type = message_factory.GetMessageClass(method.input_type)
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _refusing_undecodable(getattr(servicer, method.name)),
                request_deserializer=_tolerant(request_type.FromString),
                response_serializer=_serialize,
            )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service.full_name, handlers),)
        )
        server.add_registered_method_handlers(service.full_name, handlers)

    return add


def _tolerant(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def tolerant(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError:
            return _UNDECODABLE

    return tolerant


def _serialize(response: Any) -> bytes:
    if isinstance(response, bytes):
        return response
    serialized: bytes = response.SerializeToString()
    return serialized
