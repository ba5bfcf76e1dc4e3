"""InternalAuthService.AuthenticateCall: the gateway's rules for calls that bypass it.

The offers and profile services ask it about direct gRPC calls (docs/design.md#grpc-clients "Internal gRPC
clients"); only a p13n service (a signed service identity) may ask.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from p13n.auth.v1 import identity_pb2, internal_service_pb2, internal_service_pb2_grpc
from support.admin import Account
from support.auth import api_key
from support.suite import Suite

from services.common.clients import as_service

PERSONALIZE = internal_service_pb2.CALL_KIND_PERSONALIZE
INGEST = internal_service_pb2.CALL_KIND_INGEST


@dataclass(frozen=True)
class Creds:
    office: str  # private token allowed from 127.0.0.2 only
    office_id: str
    slow: str  # private token of a service limited to a burst of 3
    write_only: str


@pytest.fixture(scope="module")
def creds(account: Account) -> Creds:
    ps = account.parent_segment("Internal")
    services = f"/v1/parent_segments/{ps}/services"
    backend = account.service(ps, "Backend", "PRIVATE")
    office = account.ok(
        "POST",
        f"{services}/{backend}/tokens",
        {"name": "office", "allowed_ips": ["127.0.0.2/32"]},
    )
    slow = account.ok(
        "POST",
        services,
        {
            "name": "Slow",
            "type": "PRIVATE",
            "rate_limit": {"requests_per_second": 1, "burst": 3},
        },
    )["id"]
    return Creds(
        office=office["token"],
        office_id=office["id"],
        slow=account.token(ps, slow),
        write_only=api_key(account, "WRITE_ONLY"),
    )


@pytest.fixture(scope="module")
def stub(suite: Suite) -> Iterator[internal_service_pb2_grpc.InternalAuthServiceStub]:
    with suite.channel("auth", caller="offers") as channel:
        yield internal_service_pb2_grpc.InternalAuthServiceStub(channel)


def _ask(
    suite: Suite,
    stub: internal_service_pb2_grpc.InternalAuthServiceStub,
    *,
    as_offers: bool = True,
    **fields: object,
) -> identity_pb2.Identity:
    metadata = as_service("offers", suite.settings.internal_key) if as_offers else ()
    request = internal_service_pb2.AuthenticateCallRequest(**fields)  # type: ignore[arg-type]
    reply = stub.AuthenticateCall(request, metadata=metadata, timeout=5)
    identity: identity_pb2.Identity = reply.identity
    return identity


def test_a_private_token_from_an_allowed_address(
    suite: Suite, stub: internal_service_pb2_grpc.InternalAuthServiceStub, creds: Creds
) -> None:
    identity = _ask(suite, stub, kind=PERSONALIZE, token=creds.office, peer_ip="127.0.0.2")
    assert identity.token_type == identity_pb2.TOKEN_TYPE_PRIVATE
    assert identity.token_id == creds.office_id


def test_a_write_only_key_for_ingest(
    suite: Suite, stub: internal_service_pb2_grpc.InternalAuthServiceStub, creds: Creds
) -> None:
    identity = _ask(
        suite, stub, kind=INGEST, authorization=f"TD1 {creds.write_only}", peer_ip="127.0.0.1"
    )
    assert identity.api_key_type == identity_pb2.WRITE_ONLY


@pytest.mark.parametrize(
    ("fields", "as_offers", "code"),
    [
        pytest.param(
            {"kind": PERSONALIZE, "token": "office", "peer_ip": "127.0.0.1"},
            True,
            grpc.StatusCode.PERMISSION_DENIED,
            id="address-not-allowed",
        ),
        pytest.param(
            {"kind": PERSONALIZE, "token": "1/2/p13n_priv_x", "peer_ip": "127.0.0.2"},
            True,
            grpc.StatusCode.UNAUTHENTICATED,
            id="malformed-token",
        ),
        pytest.param(
            {"kind": PERSONALIZE, "peer_ip": "127.0.0.2"},
            True,
            grpc.StatusCode.UNAUTHENTICATED,
            id="no-token",
        ),
        pytest.param(
            {"kind": INGEST, "authorization": "TD1 nope", "peer_ip": "127.0.0.1"},
            True,
            grpc.StatusCode.UNAUTHENTICATED,
            id="bad-api-key",
        ),
        pytest.param(
            {"kind": PERSONALIZE, "token": "office", "peer_ip": "127.0.0.2"},
            False,
            grpc.StatusCode.UNAUTHENTICATED,
            id="caller-is-not-a-p13n-service",
        ),
    ],
)
def test_refusals(
    suite: Suite,
    stub: internal_service_pb2_grpc.InternalAuthServiceStub,
    creds: Creds,
    fields: dict[str, object],
    as_offers: bool,
    code: grpc.StatusCode,
) -> None:
    if fields.get("token") == "office":
        fields = {**fields, "token": creds.office}
    with pytest.raises(grpc.RpcError) as refused:
        _ask(suite, stub, as_offers=as_offers, **fields)
    assert refused.value.code() == code


def test_direct_calls_meet_the_token_rate_limit(
    suite: Suite, stub: internal_service_pb2_grpc.InternalAuthServiceStub, creds: Creds
) -> None:
    codes = []
    for _ in range(8):
        try:
            _ask(suite, stub, kind=PERSONALIZE, token=creds.slow, peer_ip="127.0.0.1")
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            codes.append(error.code())
    assert codes[:3] == [grpc.StatusCode.OK] * 3
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes[3:]
