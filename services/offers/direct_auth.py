"""Direct gRPC calls to PrivatePersonalize, authenticated by the auth service (docs/design.md#grpc-clients).

A backend that calls the offers service without the gateway sends its private token as
``wp13n-token`` metadata. The token, and the address it comes from, are checked by the
auth service with the gateway's own rules (``services.common.direct_auth``), so revoking a
token or narrowing its allowed IPs applies here at once. An ``x-p13n-identity`` header is
never taken on trust: the interceptor verifies its signature before this is even asked, so
a forged one is refused there.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from p13n.auth.v1 import identity_pb2, internal_service_pb2

from services.common.access import DirectAuthenticator
from services.common.direct_auth import DirectCall, auth_service_authenticator
from services.common.errors import PermissionDenied
from services.offers.upstream import failure

TOKEN_METADATA = "wp13n-token"
DIRECT_METHOD = "/p13n.offers.v1.PersonalizeService/PrivatePersonalize"
# Checking a token is a lookup in the auth service's memory; a second is generous.
AUTH_TIMEOUT = 1.0

CALL = DirectCall(
    service="offers",
    kind=internal_service_pb2.CALL_KIND_PERSONALIZE,
    metadata_key=TOKEN_METADATA,
    request_field="token",
    missing_message="Missing wp13n-token metadata: expected account_id/reactor_id/secret",
    missing_reason="NO_TOKEN",
    timeout=AUTH_TIMEOUT,
)


def direct_authenticator(stub: Any, key: bytes) -> DirectAuthenticator:
    """The ``direct`` authenticator of the offers server, asking ``stub`` (auth)."""
    ask = auth_service_authenticator(stub, key, CALL, functools.partial(failure, service="auth"))

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
        return await ask(metadata, peer_ip, method)

    return authenticate
