"""What the auth service's answer to a direct ingest call becomes for the caller."""

from __future__ import annotations

import os
from typing import Any, cast

import grpc
import pytest
from p13n.auth.v1 import internal_service_pb2

from services.common import errors
from services.common.rpc_status import DETAILS_KEY, status_details
from services.profile.ingest_service import direct_authenticator

DOWN = "The auth service cannot answer; retry shortly"


class _Auth:
    """An auth stub whose AuthenticateCall fails with ``code``."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        self._details = details

    async def AuthenticateCall(
        self, request: internal_service_pb2.AuthenticateCallRequest, **_: Any
    ) -> Any:
        assert request.authorization == "TD1 key"
        sent = errors.P13nError(self._details, reason="FROM_AUTH")
        trailers = grpc.aio.Metadata((DETAILS_KEY, status_details(sent)))
        raise grpc.aio.AioRpcError(self._code, grpc.aio.Metadata(), trailers, self._details)


@pytest.mark.parametrize(
    ("code", "details", "kind", "message", "reason"),
    [
        pytest.param(
            grpc.StatusCode.UNAUTHENTICATED,
            "Revoked key",
            errors.Unauthenticated,
            "Revoked key",
            "BAD_API_KEY",
            id="refused-key",
        ),
        pytest.param(
            grpc.StatusCode.UNAUTHENTICATED,
            "",
            errors.Unauthenticated,
            "Unknown API key",
            "BAD_API_KEY",
            id="refused-key-without-words",
        ),
        pytest.param(
            grpc.StatusCode.PERMISSION_DENIED,
            "not you",
            errors.PermissionDenied,
            errors.PERMISSION_DENIED_MESSAGE,
            "CALL_REFUSED",
            id="refused-call",
        ),
        pytest.param(
            grpc.StatusCode.UNAVAILABLE, "down", errors.Unavailable, DOWN, "UNAVAILABLE", id="down"
        ),
        pytest.param(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "slow down",
            errors.Unavailable,
            DOWN,
            "UNAVAILABLE",
            id="other-verdict",
        ),
        pytest.param(
            grpc.StatusCode.INTERNAL, "boom", errors.Unavailable, DOWN, "UNAVAILABLE", id="fault"
        ),
    ],
)
async def test_auths_answer_becomes_the_callers_error(
    code: grpc.StatusCode,
    details: str,
    kind: type[errors.P13nError],
    message: str,
    reason: str,
) -> None:
    authenticate = direct_authenticator(cast(Any, _Auth(code, details)), os.urandom(32))
    with pytest.raises(errors.P13nError) as caught:
        await authenticate({"authorization": "TD1 key"}, "127.0.0.1", "/m")
    assert type(caught.value) is kind
    assert (caught.value.message, caught.value.reason) == (message, reason)
