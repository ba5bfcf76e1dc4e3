"""The one direct-call authenticator, as the profile (Ingest) and offers services use it.

Both ask the auth service's ``AuthenticateCall`` through ``services.common.direct_auth``;
each keeps its own metadata, call kind, messages and translation of a refusal. A fake auth
stub records what it was asked, so each service's request and answers are checked exactly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from p13n.auth.v1 import identity_pb2, internal_service_pb2

from services.common import identity
from services.common.access import DirectAuthenticator
from services.common.errors import P13nError, PermissionDenied, Unauthenticated, Unavailable
from services.offers import direct_auth as offers_direct
from services.profile import ingest_service

KEY = os.urandom(32)
INGEST_METHOD = "/p13n.profile.v1.IngestService/IngestRecords"
DECIDED = identity_pb2.Identity(account_id="7", role=identity_pb2.EDITOR)


@dataclass
class FakeAuth:
    """An ``InternalAuthServiceStub`` that answers ``DECIDED`` or fails with ``code``."""

    code: grpc.StatusCode | None = None
    details: str = ""
    asked: list[tuple[internal_service_pb2.AuthenticateCallRequest, dict[str, Any]]] = field(
        default_factory=list
    )

    async def AuthenticateCall(
        self, request: internal_service_pb2.AuthenticateCallRequest, **options: Any
    ) -> internal_service_pb2.AuthenticateCallResponse:
        self.asked.append((request, options))
        if self.code is not None:
            raise grpc.aio.AioRpcError(
                self.code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=self.details
            )
        return internal_service_pb2.AuthenticateCallResponse(identity=DECIDED)


def _profile(auth: FakeAuth) -> DirectAuthenticator:
    return ingest_service.direct_authenticator(auth, KEY)  # type: ignore[arg-type]


def _offers(auth: FakeAuth) -> DirectAuthenticator:
    return offers_direct.direct_authenticator(auth, KEY)


def _signed_as(options: Mapping[str, Any]) -> str:
    """The service the call was signed as (on its own behalf, for no account)."""
    ((header, value),) = options["metadata"]
    assert header == identity.IDENTITY_HEADER
    signed = identity.verify(value, KEY)
    assert not signed.account_id
    return signed.caller_service


async def test_profile_asks_with_the_api_key_as_an_ingest_call() -> None:
    auth = FakeAuth()
    decided = await _profile(auth)({"authorization": "TD1 1/abc"}, "10.0.0.9", INGEST_METHOD)
    assert decided == DECIDED
    ((request, options),) = auth.asked
    assert request == internal_service_pb2.AuthenticateCallRequest(
        kind=internal_service_pb2.CALL_KIND_INGEST,
        authorization="TD1 1/abc",
        peer_ip="10.0.0.9",
    )
    assert options["timeout"] == 2
    assert _signed_as(options) == "profile"


async def test_offers_asks_with_the_private_token_as_a_personalize_call() -> None:
    auth = FakeAuth()
    decided = await _offers(auth)(
        {"wp13n-token": "1/2/secret"}, "10.0.0.9", offers_direct.DIRECT_METHOD
    )
    assert decided == DECIDED
    ((request, options),) = auth.asked
    assert request == internal_service_pb2.AuthenticateCallRequest(
        kind=internal_service_pb2.CALL_KIND_PERSONALIZE, token="1/2/secret", peer_ip="10.0.0.9"
    )
    assert options["timeout"] == offers_direct.AUTH_TIMEOUT
    assert _signed_as(options) == "offers"


@pytest.mark.parametrize(
    ("make", "metadata", "method", "refused"),
    [
        pytest.param(
            _profile,
            {"wp13n-token": "1/2/secret"},
            INGEST_METHOD,
            Unauthenticated(
                "Missing authorization metadata: expected TD1 <API key>", reason="NO_CREDENTIALS"
            ),
            id="profile-no-api-key",
        ),
        pytest.param(
            _offers,
            {"authorization": "TD1 1/abc"},
            offers_direct.DIRECT_METHOD,
            Unauthenticated(
                "Missing wp13n-token metadata: expected account_id/reactor_id/secret",
                reason="NO_TOKEN",
            ),
            id="offers-no-token",
        ),
        pytest.param(
            _offers,
            {"wp13n-token": "1/2/secret"},
            "/p13n.offers.v1.PersonalizeService/Personalize",
            PermissionDenied(
                "Only PrivatePersonalize may be called directly; the public path is for "
                "browsers, through the gateway",
                reason="DIRECT_CALL_NOT_ALLOWED",
            ),
            id="offers-public-method",
        ),
    ],
)
async def test_a_call_refused_before_asking_the_auth_service(
    make: Any, metadata: dict[str, str], method: str, refused: P13nError
) -> None:
    auth = FakeAuth()
    with pytest.raises(type(refused)) as raised:
        await make(auth)(metadata, "10.0.0.9", method)
    assert (raised.value.message, raised.value.reason) == (refused.message, refused.reason)
    assert auth.asked == []


@pytest.mark.parametrize(
    ("make", "metadata", "method", "code", "refused"),
    [
        pytest.param(
            _profile,
            {"authorization": "TD1 1/bad"},
            INGEST_METHOD,
            grpc.StatusCode.UNAUTHENTICATED,
            Unauthenticated("Unknown API key: 1/bad", reason="BAD_API_KEY"),
            id="profile-bad-key",
        ),
        pytest.param(
            _profile,
            {"authorization": "TD1 1/abc"},
            INGEST_METHOD,
            grpc.StatusCode.UNAVAILABLE,
            Unavailable("The auth service cannot answer; retry shortly"),
            id="profile-auth-down",
        ),
        pytest.param(
            _offers,
            {"wp13n-token": "1/2/secret"},
            offers_direct.DIRECT_METHOD,
            grpc.StatusCode.UNAVAILABLE,
            Unavailable(
                "The auth service did not answer in time; retry shortly",
                reason="AUTH_UNAVAILABLE",
            ),
            id="offers-auth-down",
        ),
    ],
)
async def test_the_auth_services_refusal_is_translated_by_each_service(
    make: Any,
    metadata: dict[str, str],
    method: str,
    code: grpc.StatusCode,
    refused: P13nError,
) -> None:
    auth = FakeAuth(code, details="Unknown API key: 1/bad")
    with pytest.raises(type(refused)) as raised:
        await make(auth)(metadata, "10.0.0.9", method)
    assert (raised.value.message, raised.value.reason) == (refused.message, refused.reason)
    assert len(auth.asked) == 1
