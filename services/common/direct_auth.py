"""Direct (not gateway) calls authenticated by the auth service, as Envoy's ext_authz does.

A backend may call the profile service's Ingest API or the offers service's
PrivatePersonalize without the gateway. Its credential (an API key, a private token) and
the address it comes from are then checked by the auth service with the gateway's own
rules (``InternalAuthService.AuthenticateCall``), so revoking a credential applies on both
paths at once. Each service states what differs: which metadata carries the credential,
the call kind, what to say when it is missing, and how to translate the auth service's
refusal into its own error; the asking itself is this one function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from p13n.auth.v1 import identity_pb2, internal_service_pb2

from services.common.access import DirectAuthenticator
from services.common.clients import as_service
from services.common.errors import Unauthenticated

# Translates the auth service's refusal (or silence) into the error the caller receives.
Refusal = Callable[[grpc.aio.AioRpcError], Exception]


@dataclass(frozen=True)
class DirectCall:
    """What one service's direct path asks the auth service, and says when it cannot."""

    service: str  # the asking service's name, as it signs its internal calls
    kind: internal_service_pb2.CallKind
    metadata_key: str  # the metadata that carries the credential
    request_field: str  # the AuthenticateCallRequest field the credential goes to
    missing_message: str  # the Unauthenticated message when the metadata is absent
    missing_reason: str
    timeout: float  # seconds the auth service has to answer


def auth_service_authenticator(
    stub: Any, key: bytes, call: DirectCall, refusal: Refusal
) -> DirectAuthenticator:
    """Authenticates a direct call by asking ``stub`` (an ``InternalAuthServiceStub``)."""

    # A DirectAuthenticator: the method is the caller's to use; the auth service needs only
    # the credential and the peer.
    async def authenticate(
        metadata: Mapping[str, str], peer_ip: str, _method: str
    ) -> identity_pb2.Identity:
        credential = metadata.get(call.metadata_key, "")
        if not credential:
            raise Unauthenticated(call.missing_message, reason=call.missing_reason)
        request = internal_service_pb2.AuthenticateCallRequest(kind=call.kind, peer_ip=peer_ip)
        setattr(request, call.request_field, credential)
        try:
            reply = await stub.AuthenticateCall(
                request, metadata=as_service(call.service, key), timeout=call.timeout
            )
        except grpc.aio.AioRpcError as error:
            raise refusal(error) from None
        identity: identity_pb2.Identity = reply.identity
        return identity

    return authenticate
