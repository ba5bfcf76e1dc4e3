"""The profile service's clients of auth (flags, kept briefly) and offers (references).

Both fail closed: when the other service cannot answer, the write that asked is refused as
UNAVAILABLE instead of being decided on a guess.
"""

from __future__ import annotations

import os
from typing import Any

import grpc
import pytest
from p13n.auth.v1 import identity_pb2, internal_service_pb2
from p13n.offers.v1 import internal_service_pb2 as offers_internal_pb2

from services.common import identity
from services.common.errors import Unavailable
from services.profile.auth_client import FLAGS_TTL_SECONDS, SECRETS_TTL_SECONDS, AuthClient
from services.profile.offers_client import OffersClient

KEY = os.urandom(32)


def _down() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "connection refused"
    )


class _Auth:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.flags = ["sensitivity"]
        self.secrets = ["p13n_idv_one"]
        self.down = False

    async def GetAccountFlags(
        self, request: internal_service_pb2.GetAccountFlagsRequest, **kwargs: Any
    ) -> internal_service_pb2.GetAccountFlagsResponse:
        if self.down:
            raise _down()
        caller = identity.verify(dict(kwargs["metadata"])[identity.IDENTITY_HEADER], KEY)
        self.asked.append((request.account_id, caller.caller_service))
        return internal_service_pb2.GetAccountFlagsResponse(flags=self.flags)

    async def CheckCredential(
        self, request: internal_service_pb2.CheckCredentialRequest, **kwargs: Any
    ) -> internal_service_pb2.CheckCredentialResponse:
        if self.down:
            raise _down()
        caller = identity.verify(dict(kwargs["metadata"])[identity.IDENTITY_HEADER], KEY)
        which = request.WhichOneof("credential") or ""
        self.asked.append((f"{which}={getattr(request, which)}", caller.caller_service))
        return internal_service_pb2.CheckCredentialResponse(valid=request.api_key_id == "41")

    async def GetIdentitySecrets(
        self, request: internal_service_pb2.GetIdentitySecretsRequest, **kwargs: Any
    ) -> internal_service_pb2.GetIdentitySecretsResponse:
        if self.down:
            raise _down()
        caller = identity.verify(dict(kwargs["metadata"])[identity.IDENTITY_HEADER], KEY)
        self.asked.append((f"secrets of {request.service_id}", caller.caller_service))
        return internal_service_pb2.GetIdentitySecretsResponse(secrets=self.secrets)


class _Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_flags_are_asked_as_the_profile_service_and_kept_for_their_ttl() -> None:
    auth, clock = _Auth(), _Clock()
    client = AuthClient(auth, KEY, clock)
    assert await client.flags_of("7") == frozenset({"sensitivity"})
    auth.flags = []
    clock.now += FLAGS_TTL_SECONDS - 0.1
    assert await client.flags_of("7") == frozenset({"sensitivity"})
    assert auth.asked == [("7", "profile")]
    clock.now += 0.2
    assert await client.flags_of("7") == frozenset()
    assert len(auth.asked) == 2


async def test_flags_when_auth_cannot_answer_are_unavailable() -> None:
    auth = _Auth()
    auth.down = True
    with pytest.raises(Unavailable, match="The auth service cannot answer; retry shortly"):
        await AuthClient(auth, KEY).flags_of("7")


async def test_identity_secrets_are_asked_as_the_profile_service_and_kept_briefly() -> None:
    auth, clock = _Auth(), _Clock()
    client = AuthClient(auth, KEY, clock)
    assert await client.identity_secrets("5") == ("p13n_idv_one",)
    auth.secrets = ["p13n_idv_two"]  # rotated (or the old one deleted) in auth
    assert await client.identity_secrets("5") == ("p13n_idv_one",)  # still within the TTL
    clock.now += SECRETS_TTL_SECONDS
    assert await client.identity_secrets("5") == ("p13n_idv_two",)
    assert auth.asked == [("secrets of 5", "profile")] * 2
    assert "p13n_idv" not in repr(client)


async def test_identity_secrets_when_auth_cannot_answer_are_unavailable() -> None:
    auth = _Auth()
    auth.down = True
    with pytest.raises(Unavailable, match="The auth service cannot answer; retry shortly"):
        await AuthClient(auth, KEY).identity_secrets("5")


async def test_a_credential_is_checked_by_its_id_and_never_kept() -> None:
    auth = _Auth()
    client = AuthClient(auth, KEY)
    assert await client.credential_valid(identity_pb2.Identity(account_id="7", api_key_id="41"))
    assert await client.credential_valid(identity_pb2.Identity(account_id="7", api_key_id="41"))
    assert not await client.credential_valid(identity_pb2.Identity(account_id="7", session_id="9"))
    assert auth.asked == [
        ("api_key_id=41", "profile"),
        ("api_key_id=41", "profile"),
        ("session_id=9", "profile"),
    ]
    # A service's own call names no credential: nothing to ask.
    assert await client.credential_valid(identity_pb2.Identity(caller_service="offers"))
    assert len(auth.asked) == 3


async def test_a_credential_check_when_auth_cannot_answer_is_unavailable() -> None:
    auth = _Auth()
    auth.down = True
    with pytest.raises(Unavailable, match="The auth service cannot answer; retry shortly"):
        await AuthClient(auth, KEY).credential_valid(identity_pb2.Identity(api_key_id="41"))


class _Offers:
    def __init__(self, names: list[str] | None) -> None:
        self.names = names
        self.requests: list[offers_internal_pb2.ListReferencesRequest] = []

    async def ListReferences(
        self, request: offers_internal_pb2.ListReferencesRequest, **_: Any
    ) -> offers_internal_pb2.ListReferencesResponse:
        if self.names is None:
            raise _down()
        self.requests.append(request)
        return offers_internal_pb2.ListReferencesResponse(personalization_names=self.names)


async def test_references_name_the_personalizations_using_it() -> None:
    offers = _Offers(["welcome"])
    names = await OffersClient(offers, KEY).references("12", attribute="views")
    assert names == ["welcome"]
    assert (offers.requests[0].parent_segment_id, offers.requests[0].attribute) == ("12", "views")


async def test_references_when_offers_cannot_answer_refuse_the_delete() -> None:
    with pytest.raises(Unavailable, match="cannot confirm that nothing references this"):
        await OffersClient(_Offers(None), KEY).references("12", segment="buyers")


def _refused() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.PERMISSION_DENIED, grpc.aio.Metadata(), grpc.aio.Metadata(), "no"
    )


class _Refusing:
    """A callee that answers an internal question with a verdict: a misconfiguration here."""

    async def GetAccountFlags(self, *_: Any, **__: Any) -> Any:
        raise _refused()

    async def ListReferences(self, *_: Any, **__: Any) -> Any:
        raise _refused()


async def test_a_refused_flags_question_is_a_fault_not_a_retry() -> None:
    # Raised as is, the interceptor answers INTERNAL and logs it; UNAVAILABLE would hide it.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await AuthClient(_Refusing(), KEY).flags_of("7")
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_refused_references_question_is_a_fault_not_a_retry() -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await OffersClient(_Refusing(), KEY).references("12", segment="buyers")
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
