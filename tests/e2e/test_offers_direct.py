"""Direct gRPC calls to PrivatePersonalize, not through Envoy (docs/design.md#grpc-clients "Internal gRPC
clients"): a token in ``wp13n-token`` is checked by the auth service; identity metadata a
caller could forge is refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from p13n.auth.v1 import identity_pb2
from p13n.offers.v1 import personalize_service_pb2, personalize_service_pb2_grpc
from support.admin import Account
from support.offers_shop import DATABASE, MEMBER, TIER, GuideShop
from support.suite import Suite

from services.common import identity


@pytest.fixture(scope="module")
def shop(account: Account) -> GuideShop:
    return GuideShop.create(account)


@pytest.fixture(scope="module")
def stub(suite: Suite) -> Iterator[personalize_service_pb2_grpc.PersonalizeServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{suite.port_of('offers')}") as channel:
        yield personalize_service_pb2_grpc.PersonalizeServiceStub(channel)


def _request() -> personalize_service_pb2.PrivatePersonalizeRequest:
    request = personalize_service_pb2.PrivatePersonalizeRequest(
        database=DATABASE, table="page_views"
    )
    request.event.update({"td_client_id": MEMBER})
    return request


def _offers(reply: personalize_service_pb2.PersonalizeResponse) -> dict[str, Any]:
    """The typed answer's offers by section name (the answer lists them in section order)."""
    return {section.name: section.offer for section in reply.offers}


def test_a_valid_private_token_is_answered_in_full(shop: GuideShop, stub: Any) -> None:
    reply = stub.PrivatePersonalize(
        _request(), metadata=(("wp13n-token", shop.private_token),), timeout=10
    )
    loyalty = _offers(reply)["Loyalty Discount"].attributes
    assert loyalty["membership_tier"] == TIER


def test_a_public_token_gets_the_redacted_answer(shop: GuideShop, stub: Any) -> None:
    reply = stub.PrivatePersonalize(
        _request(), metadata=(("wp13n-token", shop.public_token),), timeout=10
    )
    assert not _offers(reply)["Loyalty Discount"].HasField("attributes")
    assert TIER.encode() not in reply.SerializeToString()


def _forged(shop: GuideShop, key: bytes) -> str:
    claim = identity_pb2.Identity(
        account_id=shop.account.account_id,
        parent_segment_id=shop.ps,
        token_type=identity_pb2.TOKEN_TYPE_PRIVATE,
    )
    return identity.sign(claim, key)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda shop: _forged(shop, os.urandom(32)), id="signed-with-another-key"),
        pytest.param(lambda _shop: "eyJhY2NvdW50X2lkIjoiMSJ9.bm90YW1hYw", id="garbage"),
    ],
)
def test_forged_identity_metadata_is_refused(shop: GuideShop, stub: Any, header: Any) -> None:
    value = header(shop)
    for metadata in (
        ((identity.IDENTITY_HEADER, value),),
        # Not even together with a valid token: a bad identity is never ignored.
        ((identity.IDENTITY_HEADER, value), ("wp13n-token", shop.private_token)),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.PrivatePersonalize(_request(), metadata=metadata, timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        pytest.param((), grpc.StatusCode.UNAUTHENTICATED, id="no-token"),
        pytest.param(
            (("wp13n-token", "1/1/p13n_priv_unknown"),), grpc.StatusCode.UNAUTHENTICATED, id="bad"
        ),
    ],
)
def test_a_direct_call_without_a_valid_token_is_refused(
    stub: Any, metadata: tuple[tuple[str, str], ...], code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.PrivatePersonalize(_request(), metadata=metadata, timeout=10)
    assert caught.value.code() == code
