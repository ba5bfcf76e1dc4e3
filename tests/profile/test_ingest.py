"""IngestRecords against the service: all or nothing, limits, and profiles updated as by Track."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import ingest_service_pb2 as api
from support.profile_harness import Service, api_key, metadata

from services.common.events import to_struct


async def ingest(
    service: Service, records: list[dict[str, Any]], table: str = "page_views", **kw: Any
) -> int:
    reply = await service.ingest.IngestRecords(
        api.IngestRecordsRequest(
            database="shop_db", table=table, records=[to_struct(r) for r in records]
        ),
        metadata=kw.get("metadata", api_key()),
    )
    return int(reply.received)


def views(profile: Any) -> Any:
    return {a.name: json_format.MessageToDict(a.value) for a in profile.attributes}["views"]


async def test_records_are_stored_and_update_profiles_like_track(
    service: Service, shop: str
) -> None:
    received = await ingest(
        service,
        [
            {"td_client_id": "c1", "td_path": "/a", "time": "2025-01-01T00:00:00Z"},
            {"td_client_id": "c2"},
            {"td_client_id": "c2", "user_id": "u1"},
            {"td_client_id": "c1", "user_id": "u1"},
        ],
    )
    assert received == 4
    assert service.rows("SELECT count(*) FROM events") == [(4,)]
    assert service.rows("SELECT client_time FROM events WHERE client_time IS NOT NULL") == [
        ('"2025-01-01T00:00:00Z"',)
    ]
    profile = await service.get_profile(shop, "user_id", "u1")
    assert profile.canonical_id == "c1"
    assert views(profile) == 4
    assert service.table_counts()["merge_log"] == 1


@pytest.mark.usefixtures("shop")
async def test_one_record_without_identifier_stores_nothing(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ingest(service, [{"td_client_id": "c1"}, {"td_client_id": "c2"}, {"page": "x"}])
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == (
        "records[2]: event has no identifier: expected one of td_client_id, user_id"
    )
    assert service.table_counts() == dict.fromkeys(service.table_counts(), 0)


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    ("records", "message"),
    [
        pytest.param([], "1 to 500 records (got 0)", id="none"),
        pytest.param([{"td_client_id": "c"}] * 501, "1 to 500 records (got 501)", id="501"),
        pytest.param(
            [{"td_client_id": "c"}, {"td_client_id": "c", "blob": "x" * (1024 * 1024)}],
            "records[1] is larger than 1 MiB",
            id="record-over-1MiB",
        ),
    ],
)
async def test_request_limits(
    service: Service, records: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ingest(service, records)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (caught.value.details() or "")
    assert service.rows("SELECT count(*) FROM events") == [(0,)]


async def test_500_records_are_accepted(service: Service, shop: str) -> None:
    assert await ingest(service, [{"td_client_id": f"c{n % 10}"} for n in range(500)]) == 500
    assert views(await service.get_profile(shop, "td_client_id", "c3")) == 50


@pytest.mark.usefixtures("shop")
async def test_a_table_of_no_parent_segment_of_the_account_is_not_found(service: Service) -> None:
    for table, key in [("orders", api_key()), ("page_views", api_key(account="2"))]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ingest(service, [{"td_client_id": "c1"}], table=table, metadata=key)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert service.rows("SELECT count(*) FROM events") == [(0,)]


async def test_every_parent_segment_using_the_table_is_updated(service: Service, shop: str) -> None:
    other = await service.parent_segment(primary_key="user_id")
    await service.event(other, "any_view", "shop_db", "page_views")
    await service.attribute(
        other,
        name="views",
        type="COUNTER",
        event="any_view",
        counter={"window": "total"},
    )
    # Each record needs an identifier in every parent segment it goes to.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ingest(service, [{"td_client_id": "c1"}])
    assert "expected one of user_id" in (caught.value.details() or "")
    await ingest(service, [{"td_client_id": "c1", "user_id": "u5"}])
    assert service.rows("SELECT count(*) FROM events") == [(1,)]  # stored once
    assert views(await service.get_profile(shop, "td_client_id", "c1")) == 1
    assert views(await service.get_profile(other, "user_id", "u5")) == 1


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    "who",
    [
        pytest.param(identity_pb2.Identity(account_id="1", role=identity_pb2.OWNER), id="session"),
        pytest.param(
            identity_pb2.Identity(account_id="1", token_type=identity_pb2.TOKEN_TYPE_PRIVATE),
            id="personalization-token",
        ),
    ],
)
async def test_only_an_api_key_may_ingest(service: Service, who: identity_pb2.Identity) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ingest(service, [{"td_client_id": "c1"}], metadata=metadata(who))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.ingest.IngestRecords(api.IngestRecordsRequest())  # no credentials at all
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert service.rows("SELECT count(*) FROM events") == [(0,)]


# Verified identifiers: only a master key is trusted (services/profile/proofs.py).


def _identities(profile: Any) -> set[tuple[str, str]]:
    return {(i.key, i.value) for i in profile.identities}


def _bodies(service: Service) -> list[Any]:
    return [json.loads(body) for (body,) in service.rows("SELECT body FROM events ORDER BY id")]


def write_only() -> Any:
    """A write-only key's identity, signed now (an identity is refused once 4 s old)."""
    return api_key(role=identity_pb2.EDITOR)


PROOF = "ab" * 32  # the shape of a proof; no write-only key's proof is accepted anyway


async def test_a_write_only_keys_verified_values_are_left_out_and_not_stored(
    service: Service, shop: str
) -> None:
    await service.key(shop, "member_id", "M-[0-9]+", verified=True)
    # A second parent segment where the same field is an ordinary, unverified key.
    other = await service.parent_segment(primary_key="td_client_id")
    await service.key(other, "member_id", "M-[0-9]+")
    await service.event(other, "any_view", "shop_db", "page_views")
    record = {"td_client_id": "c1", "member_id": "M-1", "p13n_proofs": {"member_id": PROOF}}
    assert await ingest(service, [record], metadata=write_only()) == 1
    profile = await service.get_profile(shop, "td_client_id", "c1")
    assert _identities(profile) == {("td_client_id", "c1")}
    # Left out where it is verified, and so not stored: the claim is not kept for later.
    assert _bodies(service) == [{"td_client_id": "c1"}]
    assert service.rows("SELECT key, count FROM unproven_identifiers") == [("member_id", 1)]


async def test_a_master_key_is_trusted_and_its_proofs_are_not_stored(
    service: Service, shop: str
) -> None:
    await service.key(shop, "member_id", "M-[0-9]+", verified=True)
    record = {"td_client_id": "c1", "member_id": "M-1", "p13n_proofs": {"member_id": "x"}}
    assert await ingest(service, [record]) == 1  # api_key(): a master key
    profile = await service.get_profile(shop, "member_id", "M-1")
    assert _identities(profile) == {("td_client_id", "c1"), ("member_id", "M-1")}
    assert _bodies(service) == [{"td_client_id": "c1", "member_id": "M-1"}]


@pytest.mark.usefixtures("shop")
async def test_a_malformed_proofs_field_names_the_record(service: Service) -> None:
    records = [{"td_client_id": "c1"}, {"td_client_id": "c2", "p13n_proofs": "ab"}]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ingest(service, records, metadata=write_only())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith("records[1].p13n_proofs must be an object")
    assert _bodies(service) == []
