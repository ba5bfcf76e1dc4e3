"""Registering a servicer whose handlers may answer pre-encoded ``bytes``.

Protobuf maps (``map<string, Offer>``, and the ``Struct`` inside) serialize in hash order,
while the transcoder prints JSON objects in the order their entries arrive on the wire; a
service whose answer's order matters encodes it itself (see ``services/offers/wire.py``)
and registers with this instead of the generated ``add_…_to_server``. (Requests too deeply
nested to decode are refused for every service by the shared interceptor.)

Only unary methods are supported; a streaming one fails loudly at registration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor


def register(service: ServiceDescriptor) -> Callable[[Any, grpc.aio.Server], None]:
    """An ``add(servicer, server)`` for ``Registration`` that registers every method of
    ``service`` with a serializer that passes bytes through."""

    def add(servicer: Any, server: grpc.aio.Server) -> None:
        handlers = {}
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                raise ValueError(f"{method.full_name} streams; register it the generated way")
            request_type = message_factory.GetMessageClass(method.input_type)
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                getattr(servicer, method.name),
                request_deserializer=request_type.FromString,
                response_serializer=_serialize,
            )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service.full_name, handlers),)
        )
        server.add_registered_method_handlers(service.full_name, handlers)

    return add


def _serialize(response: Any) -> bytes:
    if isinstance(response, bytes):
        return response
    serialized: bytes = response.SerializeToString()
    return serialized
