"""The personalize RPCs against a real offers server (profile and auth are stand-ins).

What is asserted is what leaves the service: the response's bytes, statuses and messages,
and what reached the profile service. The gateway's paths (PublicPersonalize,
PrivatePersonalizeHttp) answer the JSON in a ``google.api.HttpBody``; a gRPC client's
PrivatePersonalize (through the gateway, too) gets a typed ``PersonalizeResponse``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest
from p13n.auth.v1 import identity_pb2
from p13n.offers.v1 import personalize_service_pb2
from support.offers_harness import (
    ACCOUNT,
    OTHER_ACCOUNT,
    PRIVATE,
    PUBLIC,
    Offers,
    Visitor,
    json_of,
    json_order,
    token_holder,
    wire_order,
)

from services.common import identity
from services.offers.catalog import Catalog

HOMEPAGE = {
    "name": "Homepage",
    "trigger_events": ["page_view"],
    "sections": [
        {
            "name": "Welcome Banner",
            "payload": [{"name": "welcome_message", "static": "Hello, new user!"}],
        },
        {
            "name": "Loyalty Discount",
            "payload": [
                {"name": "discount_code", "static": "LOYAL-15"},
                {"name": "membership_tier", "attribute": "membership_tier"},
            ],
        },
    ],
}
VIP = {
    "name": "VIP",
    "trigger_events": ["page_view"],
    "sections": [
        {
            "name": "VIP offer",
            "criteria": {"attribute": "membership_tier", "op": "eq", "value": "platinum"},
            "payload": [{"name": "code", "static": "VIP-20"}],
        }
    ],
}
EVENT = {"td_client_id": "c-1", "td_path": "/sale/shoes"}


def offers_of(data: bytes) -> dict[str, Any]:
    """A typed answer's sections: name -> attributes (``{}`` when redacted)."""
    response = personalize_service_pb2.PersonalizeResponse.FromString(data)
    return {
        section.name: dict(section.offer.attributes) if section.offer.HasField("attributes") else {}
        for section in response.offers
    }


def json_offers_of(data: bytes) -> dict[str, Any]:
    """A JSON answer's sections, in the same form as ``offers_of``."""
    answer = json.loads(json_of(data))
    assert list(answer) == ["offers"]
    return {name: section.get("attributes", {}) for name, section in answer["offers"].items()}


async def shop(offers: Offers, catalog: Catalog, *bodies: dict[str, Any], **visitor: Any) -> str:
    ps = offers.segment(catalog)
    for body in bodies:
        await offers.create(ps, body)
    offers.profile.visitors[ps] = Visitor(matched_events=["page_view"], **visitor)
    return ps


async def test_welcome_banner_and_a_redacted_loyalty_discount_side_by_side(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE, attributes={"membership_tier": "platinum"})
    data = await offers.public(ps, EVENT)
    # The bytes the gateway sends to the browser as they are: sections in order, compact.
    assert json_of(data) == (
        b'{"offers":{"Welcome Banner":{"attributes":{"welcome_message":"Hello, new user!"}},'
        b'"Loyalty Discount":{}}}'
    )
    assert b"platinum" not in data


async def test_sections_keep_their_order_whatever_their_names(
    offers: Offers, catalog: Catalog
) -> None:
    names = ["zeta", "Alpha", "mid", "b", "Ω", "a"]
    body = {
        "name": "Many",
        "trigger_events": ["page_view"],
        "sections": [
            {"name": n, "payload": [{"name": f, "static": f} for f in ("z", "a", "m")]}
            for n in names
        ],
    }
    ps = await shop(offers, catalog, body)
    expected = [(n, ["z", "a", "m"]) for n in names]
    assert json_order(json_of(await offers.public(ps, EVENT))) == expected
    assert json_order(json_of(await offers.private_http(ps, EVENT))) == expected
    # A direct caller's typed answer keeps the order on the wire.
    assert wire_order(await offers.private(ps, EVENT)) == expected


async def test_a_sensitive_sections_public_answer_does_not_depend_on_its_criteria(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, VIP)
    answers = []
    for tier in ("platinum", "bronze", None):
        offers.profile.visitors[ps] = Visitor({"membership_tier": tier}, (), ["page_view"])
        answers.append(await offers.public(ps, EVENT))
    assert json_of(answers[0]) == b'{"offers":{"VIP offer":{}}}'
    assert answers[1] == answers[0]
    assert answers[2] == answers[0]
    # Privately the criteria do tell the visitors apart.
    offers.profile.visitors[ps] = Visitor({"membership_tier": "bronze"}, (), ["page_view"])
    assert offers_of(await offers.private(ps, EVENT)) == {}
    assert json_of(await offers.private_http(ps, EVENT)) == b'{"offers":{}}'


async def test_the_private_path_answers_sensitive_sections_in_full(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE, VIP, attributes={"membership_tier": "platinum"})
    full = {
        "Welcome Banner": {"welcome_message": "Hello, new user!"},
        "Loyalty Discount": {"discount_code": "LOYAL-15", "membership_tier": "platinum"},
        "VIP offer": {"code": "VIP-20"},
    }
    assert offers_of(await offers.private(ps, EVENT)) == full
    assert json_offers_of(await offers.private_http(ps, EVENT)) == full


async def test_a_public_token_on_the_private_path_gets_exactly_the_public_answer(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE, VIP, attributes={"membership_tier": "platinum"})
    public = await offers.public(ps, EVENT)
    assert await offers.private_http(ps, EVENT, token_type=PUBLIC) == public
    assert b"platinum" not in public
    # A direct caller holding a public token gets the same answer, typed.
    typed = await offers.private(ps, EVENT, token_type=PUBLIC)
    assert b"platinum" not in typed
    assert offers_of(typed) == json_offers_of(public)
    assert wire_order(typed) == json_order(json_of(public))


async def test_a_private_token_is_refused_on_the_public_path(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await offers.raw("PublicPersonalize", EVENT, token_holder(ps, PRIVATE))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "use a public token" in (caught.value.details() or "")
    assert offers.profile.tracked == []


@pytest.mark.parametrize(
    ("total", "printed"),
    [
        pytest.param(28700, b"28700", id="int"),
        # An integral double (a sum of doubles) prints as the integer it is.
        pytest.param(28700.0, b"28700", id="integral-double"),
        pytest.param(287.5, b"287.5", id="fraction"),
        # A sum can overflow to infinity; JSON has no such number.
        pytest.param(float("inf"), b"null", id="infinity"),
        # Integers beyond 2**53 are doubles, as they were when Track carried a Struct
        # (the profile sums counters exactly, so it can answer such integers).
        pytest.param(2**53 + 1, b"9007199254740992", id="beyond-2**53"),
        pytest.param(24691357802469134000, b"2.4691357802469134e+19", id="large-sum"),
        pytest.param(int(1e300), b"1e+300", id="1e300"),
        pytest.param(10**400, b"null", id="beyond-doubles"),
    ],
)
async def test_numbers_arrive_as_numbers(
    offers: Offers, catalog: Catalog, total: float, printed: bytes
) -> None:
    body = {
        "name": "Rewards",
        "trigger_events": ["page_view"],
        "sections": [
            {
                "name": "Silver rewards just for you!",
                "criteria": {"attribute": "tier", "op": "eq", "value": "silver"},
                "payload": [{"name": "total_purchase", "attribute": "total_purchase"}],
            }
        ],
    }
    ps = await shop(offers, catalog, body, attributes={"tier": "silver", "total_purchase": total})
    assert json_of(await offers.public(ps, EVENT)) == (
        b'{"offers":{"Silver rewards just for you!":{"attributes":{"total_purchase":'
        + printed
        + b"}}}}"
    )


def nested(levels: int) -> dict[str, Any]:
    """An event whose nesting is ``levels`` deep (the event object itself is level 1)."""
    event: dict[str, Any] = {"td_client_id": "c-1"}
    inner = event
    for _ in range(levels - 1):
        inner["n"] = {}
        inner = inner["n"]
    return event


@pytest.mark.parametrize(
    ("levels", "code"),
    [
        pytest.param(32, None, id="32-levels-pass"),
        pytest.param(33, grpc.StatusCode.INVALID_ARGUMENT, id="33-levels-refused"),
        # Too deep for protobuf to decode at all: still the client's mistake, not INTERNAL.
        pytest.param(60, grpc.StatusCode.INVALID_ARGUMENT, id="60-levels-undecodable"),
    ],
)
async def test_event_nesting_is_limited_to_32_levels(
    offers: Offers, catalog: Catalog, levels: int, code: grpc.StatusCode | None
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE)
    if code is None:
        assert "Welcome Banner" in json_offers_of(await offers.public(ps, nested(levels)))
        return
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await offers.public(ps, nested(levels))
    assert caught.value.code() == code
    assert "32 levels" in (caught.value.details() or "")
    assert offers.profile.tracked == []


@pytest.mark.parametrize(
    ("event", "database", "code", "message"),
    [
        pytest.param(
            {}, "shop_db", grpc.StatusCode.INVALID_ARGUMENT, "event has no identifier", id="empty"
        ),
        pytest.param(
            EVENT, "other_db", grpc.StatusCode.NOT_FOUND, "not an event table", id="unknown-table"
        ),
    ],
)
async def test_the_profile_services_verdict_on_the_event_is_passed_on(
    offers: Offers,
    catalog: Catalog,
    event: dict[str, Any],
    database: str,
    code: grpc.StatusCode,
    message: str,
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE)
    request = personalize_service_pb2.PublicPersonalizeRequest(
        database=database, table="page_views"
    )
    request.event.update(event)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await offers.personalize.PublicPersonalize(request, metadata=token_holder(ps, PUBLIC))
    assert caught.value.code() == code
    assert message in (caught.value.details() or "")


async def test_track_carries_the_callers_identity_as_the_offers_service(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE)
    await offers.public(ps, EVENT)
    (request, caller) = offers.profile.tracked[-1]
    assert (request.parent_segment_id, request.database, request.table) == (
        ps,
        "shop_db",
        "page_views",
    )
    assert dict(request.event)["td_path"] == "/sale/shoes"
    assert not request.dry_run
    assert caller is not None
    assert (caller.account_id, caller.parent_segment_id, caller.token_type) == (ACCOUNT, ps, PUBLIC)
    assert caller.caller_service == "offers"


@pytest.mark.parametrize(
    "outage", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED], ids=str
)
async def test_a_profile_outage_is_unavailable(
    offers: Offers, catalog: Catalog, outage: grpc.StatusCode
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE)
    offers.profile.outage = outage
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await offers.public(ps, EVENT)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "profile service did not answer" in (caught.value.details() or "")


async def test_a_hung_profile_service_is_unavailable_within_the_callers_deadline(
    offers: Offers, catalog: Catalog
) -> None:
    """The Track call gets the caller's remaining deadline less a margin: the caller hears
    UNAVAILABLE from offers, not its own DEADLINE_EXCEEDED."""
    ps = await shop(offers, catalog, HOMEPAGE)
    offers.profile.hold = release = asyncio.Event()
    request = personalize_service_pb2.PublicPersonalizeRequest(
        database="shop_db", table="page_views"
    )
    request.event.update(EVENT)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await offers.personalize.PublicPersonalize(
                request, metadata=token_holder(ps, PUBLIC), timeout=1.0
            )
    finally:
        release.set()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_the_compiled_configuration_is_reused_until_something_changes(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE)
    await offers.public(ps, EVENT)
    reads = offers.profile.config_reads
    for _ in range(3):
        await offers.public(ps, EVENT)
    assert offers.profile.config_reads == reads

    await offers.create(ps, VIP)  # a personalization changed: rebuilt at the next request
    reads = offers.profile.config_reads
    assert "VIP offer" in json_offers_of(await offers.public(ps, EVENT))
    assert offers.profile.config_reads == reads + 1

    offers.change_config(ps, catalog)  # the configuration's version grew
    await offers.public(ps, EVENT)
    assert offers.profile.config_reads == reads + 2


async def test_requests_waiting_for_a_rebuild_take_it_even_from_a_lagging_profile_replica(
    offers: Offers, catalog: Catalog
) -> None:
    """Track names version 2, GetRealtimeConfig still answers 1 (another profile replica):
    the requests that waited for that rebuild use it instead of each fetching once more."""
    ps = await shop(offers, catalog, HOMEPAGE)
    await offers.public(ps, EVENT)
    offers.profile.lagging_configs[ps] = offers.profile.configs[ps]
    offers.change_config(ps, catalog)
    offers.profile.config_hold = asyncio.Event()
    reads, tracked = offers.profile.config_reads, len(offers.profile.tracked)
    requests = [asyncio.create_task(offers.public(ps, EVENT)) for _ in range(10)]
    await offers.profile.until_tracked(tracked + 10)
    await asyncio.sleep(0.1)  # all ten now wait for the one rebuild
    offers.profile.config_hold.set()
    answers = await asyncio.gather(*requests)
    assert offers.profile.config_reads == reads + 1
    assert all("Welcome Banner" in json_offers_of(answer) for answer in answers)

    del offers.profile.lagging_configs[ps]  # caught up: the next request rebuilds, once
    await offers.public(ps, EVENT)
    await offers.public(ps, EVENT)
    assert offers.profile.config_reads == reads + 2


async def test_a_personalization_broken_by_a_configuration_change_is_left_out(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE, VIP, attributes={"membership_tier": "platinum"})
    attributes = {k: v for k, v in catalog.attributes.items() if k != "membership_tier"}
    offers.change_config(ps, Catalog(attributes, catalog.segments, catalog.events))
    assert offers_of(await offers.private(ps, EVENT)) == {}
    offers.change_config(ps, catalog)
    assert set(offers_of(await offers.private(ps, EVENT))) == {
        "Welcome Banner",
        "Loyalty Discount",
        "VIP offer",
    }


async def test_a_token_of_another_account_finds_no_parent_segment(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await offers.raw(
            "PublicPersonalize", EVENT, token_holder(ps, PUBLIC, account=OTHER_ACCOUNT)
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


# Only the gateway's identity opens the data plane (docs/design.md#grpc-clients): a gRPC
# client's token is the gateway's to check (tests/e2e/test_grpc_gateway.py), so a call that
# reaches the service with a token and no identity is refused before anything is tracked.


async def test_an_identity_not_signed_with_the_key_is_refused_even_with_a_token(
    offers: Offers, catalog: Catalog
) -> None:
    ps = await shop(offers, catalog, HOMEPAGE)
    forged = identity_pb2.Identity(account_id=ACCOUNT, parent_segment_id=ps, token_type=PRIVATE)
    metadata = (
        (identity.IDENTITY_HEADER, identity.sign(forged, b"not the suite's key" * 2)),
        ("wp13n-token", f"{ACCOUNT}/{ps}/p13n_priv_direct"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await offers.raw("PrivatePersonalize", EVENT, metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert offers.profile.tracked == []


@pytest.mark.parametrize(
    "method", ["PrivatePersonalize", "PublicPersonalize", "PrivatePersonalizeHttp"]
)
@pytest.mark.parametrize("token", [None, "7/1/p13n_priv_direct"], ids=["no-token", "token"])
async def test_a_call_without_the_gateways_identity_is_refused(
    offers: Offers, catalog: Catalog, method: str, token: str | None
) -> None:
    await shop(offers, catalog, HOMEPAGE)
    metadata = (("wp13n-token", token),) if token else ()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await offers.raw(method, EVENT, metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "through the gateway" in (caught.value.details() or "")
    assert offers.profile.tracked == []
