"""Direct gRPC calls to PrivatePersonalize, authenticated by the auth service (DESIGN §2).

A backend that calls the offers service without the gateway sends its private token as
``wp13n-token`` metadata. The token, and the address it comes from, are checked by the
auth service with the gateway's own rules (``AuthenticateCall``), so revoking a token or
narrowing its allowed IPs applies here at once. An ``x-p13n-identity`` header is never
taken on trust: the interceptor verifies its signature before this is even asked, so a
forged one is refused there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from p13n.auth.v1 import identity_pb2, internal_service_pb2

from services.common.access import DirectAuthenticator
from services.common.clients import as_service
from services.common.errors import PermissionDenied, Unauthenticated
from services.offers.upstream import failure

TOKEN_METADATA = "wp13n-token"
DIRECT_METHOD = "/p13n.offers.v1.PersonalizeService/PrivatePersonalize"
# Checking a token is a lookup in the auth service's memory; a second is generous.
AUTH_TIMEOUT = 1.0


def direct_authenticator(stub: Any, key: bytes) -> DirectAuthenticator:
    """The ``direct`` authenticator of the offers server, asking ``stub`` (auth)."""

    async def authenticate(
        metadata: Mapping[str, str], peer_ip: str, method: str
    ) -> identity_pb2.Identity:
        if method != DIRECT_METHOD:
            # The public path decides on the Origin, which only the gateway sees.
            raise PermissionDenied(
                "Only PrivatePersonalize may be called directly; the public path is for "
                "browsers, through the gateway",
                reason="DIRECT_CALL_NOT_ALLOWED",
            )
        token = metadata.get(TOKEN_METADATA, "")
        if not token:
            raise Unauthenticated(
                "Missing wp13n-token metadata: expected account_id/reactor_id/secret",
                reason="NO_TOKEN",
            )
        try:
            reply = await stub.AuthenticateCall(
                internal_service_pb2.AuthenticateCallRequest(
                    kind=internal_service_pb2.CALL_KIND_PERSONALIZE, token=token, peer_ip=peer_ip
                ),
                metadata=as_service("offers", key),
                timeout=AUTH_TIMEOUT,
            )
        except grpc.aio.AioRpcError as error:
            raise failure(error, "auth") from None
        identity: identity_pb2.Identity = reply.identity
        return identity

    return authenticate
