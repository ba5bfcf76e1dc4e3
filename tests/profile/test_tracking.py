"""Track against a real grpc.aio server and SQLite file: storage, answers, refusals, dry run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import config_service_pb2, internal_service_pb2, profile_service_pb2
from support.profile_harness import (
    ACCOUNT,
    NOW,
    Service,
    deep_struct_bytes,
    editor,
    metadata,
    offers,
    proto_field,
)

from services.common.events import to_struct


def answer(reply: internal_service_pb2.TrackResponse) -> dict[str, Any]:
    """The reply as JSON, its attributes' JSON text read in place."""
    fields = json_format.MessageToDict(reply, preserving_proto_field_name=True)
    fields["attributes"] = json.loads(fields.pop("attributes_json"))
    return fields


async def test_an_event_is_stored_with_server_and_client_time_and_answered(
    service: Service, shop: str
) -> None:
    event = {"td_client_id": "c1", "td_path": "/products/42", "product": "shoe", "time": 12345}
    reply = answer(await service.track(shop, event))

    assert reply["canonical_id"] == "c1"
    assert reply["matched_events"] == ["page_view", "product_view"]
    assert reply["attributes"] == {
        "views": 1,
        "last_path": "/products/42",
        "recent": {"products": ["shoe"]},
    }
    assert int(reply["config_version"]) > 1
    [(database, table, time, client_time, body)] = service.rows(
        "SELECT database, table_name, time, client_time, body FROM events"
    )
    assert (database, table, time, client_time) == ("shop_db", "page_views", NOW, "12345")
    # Integral numbers stay integers in the stored body, as the client wrote them.
    assert json.loads(body) == event
    assert '"time":12345' in body


async def test_attributes_are_answered_as_json_text_with_integers_kept(
    service: Service, shop: str
) -> None:
    for product in ("shoe", 'b"é'):
        event = {"td_client_id": "c1", "td_path": "/products/7", "product": product}
        raw = (await service.track(shop, event)).attributes_json
    # Compact, UTF-8 as is; integers stay integers, lists stay lists (newest first).
    assert raw == '{"views":2,"last_path":"/products/7","recent":{"products":["b\\"é","shoe"]}}'


async def test_an_event_matching_no_definition_is_still_stored(service: Service, shop: str) -> None:
    # product_view's filter must full-match: "/products" alone is not "/products/.*".
    reply = answer(await service.track(shop, {"td_client_id": "c1", "td_path": "/productsx"}))
    assert reply["matched_events"] == ["page_view"]
    assert reply["attributes"]["recent"] == {"products": []}
    ps2 = await service.parent_segment()
    await service.event(ps2, "checkout", "shop_db", "page_views", td_path="/checkout")
    reply = answer(await service.track(ps2, {"td_client_id": "c1", "td_path": "/home"}))
    assert reply.get("matched_events", []) == []
    assert service.rows("SELECT count(*) FROM events")[0][0] == 2


@pytest.mark.parametrize(
    ("value", "regex", "matches"),
    [
        pytest.param("/products/1", "/products/.*", True, id="full-match"),
        pytest.param("/x/products/1", "/products/.*", False, id="not-a-search"),
        pytest.param(42, "4[0-9]", True, id="integral-number-as-json"),
        pytest.param(True, "true", True, id="boolean-as-json"),
        pytest.param(None, ".*", False, id="null-matches-nothing"),
        pytest.param(["/products/1"], ".*", False, id="array-matches-nothing"),
    ],
)
async def test_filters_full_match_the_string_value(
    service: Service, value: Any, regex: str, matches: bool
) -> None:
    ps = await service.parent_segment()
    await service.event(ps, "hit", "shop_db", "page_views", field=regex)
    reply = answer(await service.track(ps, {"td_client_id": "c", "field": value}))
    assert (reply.get("matched_events", []) == ["hit"]) is matches


async def test_unknown_table_is_not_found_and_stores_nothing(service: Service, shop: str) -> None:
    before = service.table_counts()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.track(shop, {"td_client_id": "c1"}, table="orders")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "shop_db.orders is not an event table" in (caught.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.internal.Track(
            internal_service_pb2.TrackRequest(
                parent_segment_id="999", database="shop_db", table="page_views"
            ),
            metadata=offers(),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert service.table_counts() == before


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"td_path": "/"}, id="no-key-field"),
        pytest.param({"td_client_id": "  ", "user_id": "guest"}, id="blank-and-regex-mismatch"),
        pytest.param({"td_client_id": None, "user_id": "u0"}, id="null-and-excluded"),
        pytest.param({"td_client_id": True}, id="boolean"),
        pytest.param({"td_client_id": "x" * 501}, id="over-500-bytes"),
    ],
)
async def test_no_usable_identifier_is_refused_with_the_exact_message(
    service: Service, shop: str, event: dict[str, Any]
) -> None:
    before = service.table_counts()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.track(shop, event)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        caught.value.details() == "event has no identifier: expected one of td_client_id, user_id"
    )
    assert service.table_counts() == before


def nested(depth: int) -> dict[str, Any]:
    """An event whose nesting is ``depth`` levels (the event object itself is level 1)."""
    value: Any = 1
    for level in range(depth - 1):
        value = {"x": value} if level % 2 else [value]
    return {"td_client_id": "c1", "deep": value}


async def test_nesting_up_to_32_levels_is_accepted(service: Service, shop: str) -> None:
    await service.track(shop, nested(32))
    assert service.rows("SELECT count(*) FROM events")[0][0] == 1


async def test_nesting_of_33_levels_is_invalid_argument(service: Service, shop: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.track(shop, nested(33))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "nesting is deeper than 32 levels" in (caught.value.details() or "")
    assert service.rows("SELECT count(*) FROM events")[0][0] == 0


@pytest.mark.parametrize("depth", [34, 40, 90])
async def test_nesting_too_deep_to_decode_is_invalid_argument_not_internal(
    service: Service, shop: str, depth: int
) -> None:
    # Such a message cannot be built with the protobuf runtime, so its bytes are written out.
    request = b"".join(
        [
            proto_field(1, shop.encode()),
            proto_field(2, b"shop_db"),
            proto_field(3, b"page_views"),
            proto_field(4, deep_struct_bytes(depth)),
        ]
    )
    track = service.channel.unary_unary("/p13n.profile.v1.InternalProfileService/Track")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await track(request, metadata=offers())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "32 levels" in (caught.value.details() or "")
    assert service.rows("SELECT count(*) FROM events")[0][0] == 0


async def test_a_value_over_500_bytes_is_skipped_logged_and_counted(
    service: Service, shop: str, caplog: pytest.LogCaptureFixture
) -> None:
    await service.track(shop, {"td_client_id": "c1", "td_path": "/ok"})
    reply = answer(await service.track(shop, {"td_client_id": "c1", "td_path": "/" + "p" * 600}))
    assert reply["attributes"]["last_path"] == "/ok"
    assert reply["attributes"]["views"] == 2  # the event itself counted and stored
    assert service.rows("SELECT attribute, count FROM skipped_values") == [("last_path", 1)]
    assert service.rows("SELECT count(*) FROM events")[0][0] == 2
    assert any(
        "last_path" in r.getMessage() and "pppp" not in r.getMessage() for r in caplog.records
    )


async def test_dry_run_answers_like_the_real_call_and_writes_nothing(
    service: Service, shop: str
) -> None:
    await service.track(shop, {"td_client_id": "c1", "user_id": "u1"})
    await service.track(shop, {"td_client_id": "c2"})
    linking = {"td_client_id": "c2", "user_id": "u1", "td_path": "/products/9", "product": "hat"}
    before = service.table_counts()
    state_before = service.rows("SELECT id, state FROM profiles ORDER BY id")

    dry = answer(await service.track(shop, linking, dry_run=True))

    assert service.table_counts() == before
    assert service.rows("SELECT id, state FROM profiles ORDER BY id") == state_before
    real = answer(await service.track(shop, linking))
    assert dry == real
    assert real["canonical_id"] == "c1"  # the dry run foresaw the merge
    assert service.table_counts()["merge_log"] == before["merge_log"] + 1


async def test_configuration_is_read_once_per_version(service: Service, shop: str) -> None:
    await service.track(shop, {"td_client_id": "c1"})
    loads = service.configs.loads
    for n in range(20):
        await service.track(shop, {"td_client_id": f"c{n}"})
    assert service.configs.loads == loads
    await service.attribute(
        shop,
        name="first_path",
        type="SINGLE",
        event="page_view",
        field="td_path",
        sensitivity="NON_SENSITIVE",
    )
    reply = answer(await service.track(shop, {"td_client_id": "c1", "td_path": "/new"}))
    assert service.configs.loads == loads + 1
    assert reply["attributes"]["first_path"] == "/new"  # the change applied at once


async def test_server_time_drives_windows_not_the_client_time(service: Service) -> None:
    ps = await service.parent_segment()
    await service.event(ps, "page_view", "shop_db", "page_views")
    await service.attribute(
        ps,
        name="views_1h",
        type="COUNTER",
        event="page_view",
        counter={"window": "1h"},
    )
    # A client claiming a time long ago still counts now; an hour later nothing counts.
    reply = answer(await service.track(ps, {"td_client_id": "c", "time": 0}))
    assert reply["attributes"]["views_1h"] == 1
    service.clock.now += 3 * 3600
    reply = answer(await service.track(ps, {"td_client_id": "c", "time": service.clock.now}))
    assert reply["attributes"]["views_1h"] == 1


async def test_the_answer_carries_imported_values_and_segments(service: Service, shop: str) -> None:
    vip = await service.segment(shop, "vip")
    await service.profile.ImportAttributes(
        profile_service_pb2.ImportAttributesRequest(
            parent_segment_id=shop,
            key="user_id",
            records=[
                profile_service_pb2.ImportRecord(value="u7", attributes=to_struct({"tier": "gold"}))
            ],
        ),
        metadata=editor(),
    )
    await service.config.ImportSegmentMembers(
        config_service_pb2.ImportSegmentMembersRequest(
            parent_segment_id=shop, segment_id=vip, key="user_id", values=["u7"]
        ),
        metadata=editor(),
    )
    reply = answer(await service.track(shop, {"td_client_id": "c1"}))
    assert "tier" not in reply["attributes"]
    assert reply.get("segments", []) == []
    reply = answer(await service.track(shop, {"td_client_id": "c1", "user_id": "u7"}))
    assert reply["attributes"]["tier"] == "gold"
    assert reply["segments"] == ["vip"]


async def test_deleting_a_parent_segment_removes_its_profiles_but_not_the_events(
    service: Service, shop: str
) -> None:
    vip = await service.segment(shop, "vip")
    await service.track(shop, {"td_client_id": "c1", "user_id": "u1"})
    await service.track(shop, {"td_client_id": "c2"})
    await service.track(shop, {"td_client_id": "c2", "user_id": "u1"})
    await service.config.ImportSegmentMembers(
        config_service_pb2.ImportSegmentMembersRequest(
            parent_segment_id=shop, segment_id=vip, key="user_id", values=["u1"]
        ),
        metadata=editor(),
    )
    await service.config.DeleteParentSegment(
        config_service_pb2.DeleteParentSegmentRequest(parent_segment_id=shop), metadata=editor()
    )
    counts = service.table_counts()
    assert counts.pop("events") == 3  # the account's table data outlives the segment
    assert counts == dict.fromkeys(counts, 0)


@pytest.mark.parametrize("backend_env", [{}], ids=["sqlite"])  # the group-commit queue
async def test_an_event_whose_caller_gave_up_in_the_queue_is_not_stored(
    service: Service, shop: str
) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def hold(_conn: Any) -> None:
        entered.set()
        await release.wait()

    assert service.writer is not None
    held = asyncio.create_task(service.writer.run(hold))
    await entered.wait()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.internal.Track(
            internal_service_pb2.TrackRequest(
                parent_segment_id=shop,
                database="shop_db",
                table="page_views",
                event=to_struct({"td_client_id": "late"}),
            ),
            metadata=offers(),
            timeout=0.2,
        )
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    release.set()
    await held
    await service.track(shop, {"td_client_id": "after"})  # the queue behind it has drained
    assert service.rows("SELECT json_extract(body, '$.td_client_id') FROM events") == [("after",)]


# Verified identifiers fail closed: only a positively private caller is trusted.

PRIVATE_TOKEN = identity_pb2.Identity(
    account_id=ACCOUNT, token_type=identity_pb2.TOKEN_TYPE_PRIVATE, caller_service="offers"
)


async def _track_claim(service: Service, ps: str, who: Any, client_id: str) -> set[str]:
    """Tracks ``client_id`` naming member M-1 as ``who``; the keys its profile then has."""
    await service.internal.Track(
        internal_service_pb2.TrackRequest(
            parent_segment_id=ps,
            database="shop_db",
            table="page_views",
            event=to_struct({"td_client_id": client_id, "member_id": "M-1"}),
        ),
        metadata=who,
    )
    profile = await service.get_profile(ps, "td_client_id", client_id)
    return {i.key for i in profile.identities}


async def test_a_call_without_a_token_must_prove_its_verified_identifiers(
    service: Service, shop: str
) -> None:
    """A service's own call names no credential: it is not trusted (it used to be)."""
    await service.key(shop, "member_id", "M-[0-9]+", verified=True)
    assert await _track_claim(service, shop, offers(), "c-anon") == {"td_client_id"}
    assert service.rows("SELECT key, count FROM unproven_identifiers") == [("member_id", 1)]
    stored = service.rows("SELECT body FROM events")
    assert [json.loads(body) for (body,) in stored] == [{"td_client_id": "c-anon"}]


async def test_a_private_token_stitches_without_a_proof(service: Service, shop: str) -> None:
    await service.key(shop, "member_id", "M-[0-9]+", verified=True)
    keys = await _track_claim(service, shop, metadata(PRIVATE_TOKEN), "c-server")
    assert keys == {"td_client_id", "member_id"}
