"""Imported attributes and batch segment members, JSON and streamed, against the service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import config_service_pb2
from p13n.profile.v1 import profile_service_pb2 as api
from support.profile_harness import Service, api_key, editor

from services.common.events import to_struct


def records(*pairs: tuple[str, dict[str, Any]]) -> list[api.ImportRecord]:
    return [api.ImportRecord(value=v, attributes=to_struct(a)) for v, a in pairs]


async def import_attributes(service: Service, ps: str, key: str, *pairs: Any) -> int:
    reply = await service.profile.ImportAttributes(
        api.ImportAttributesRequest(parent_segment_id=ps, key=key, records=records(*pairs)),
        metadata=editor(),
    )
    return int(reply.imported)


def values(profile: Any) -> dict[str, tuple[Any, str]]:
    return {
        a.name: (json_format.MessageToDict(a.value), a.sensitivity_summary)
        for a in profile.attributes
    }


async def test_imported_values_apply_at_once_with_their_sensitivity(
    service: Service, shop: str
) -> None:
    await service.track(shop, {"td_client_id": "c1", "user_id": "u1"})
    assert await import_attributes(service, shop, "user_id", ("u1", {"tier": "gold"})) == 1

    profile = await service.get_profile(shop, "td_client_id", "c1")
    assert values(profile)["tier"] == ("gold", "Sensitive")
    reply = await service.track(shop, {"td_client_id": "c1"})
    assert json.loads(reply.attributes_json)["tier"] == "gold"


async def test_a_value_imported_before_its_profile_exists_reaches_it(
    service: Service, shop: str
) -> None:
    await import_attributes(service, shop, "td_client_id", ("c9", {"tier": "silver"}))
    early = await service.get_profile(shop, "td_client_id", "c9")
    assert early.canonical_id == "c9"
    assert values(early)["tier"] == ("silver", "Sensitive")
    reply = await service.track(shop, {"td_client_id": "c9"})
    assert json.loads(reply.attributes_json)["tier"] == "silver"


async def test_reimporting_replaces_named_values_and_null_clears(
    service: Service, shop: str
) -> None:
    await service.attribute(shop, name="score", type="IMPORTED", sensitivity="NON_SENSITIVE")
    await service.track(shop, {"td_client_id": "c1"})
    await import_attributes(service, shop, "td_client_id", ("c1", {"tier": "gold", "score": 7}))
    await import_attributes(service, shop, "td_client_id", ("c1", {"score": 8}))
    assert values(await service.get_profile(shop, "td_client_id", "c1"))["score"] == (
        8,
        "Non-Sensitive",
    )
    assert values(await service.get_profile(shop, "td_client_id", "c1"))["tier"][0] == "gold"
    await import_attributes(service, shop, "td_client_id", ("c1", {"tier": None}))
    assert "tier" not in values(await service.get_profile(shop, "td_client_id", "c1"))


async def test_the_primary_key_wins_a_conflict_across_the_cluster(
    service: Service, shop: str
) -> None:
    await service.track(shop, {"td_client_id": "c1", "user_id": "u1"})
    await import_attributes(service, shop, "user_id", ("u1", {"tier": "from-user"}))
    await import_attributes(service, shop, "td_client_id", ("c1", {"tier": "from-primary"}))
    profile = await service.get_profile(shop, "user_id", "u1")
    assert values(profile)["tier"][0] == "from-primary"


@pytest.mark.parametrize(
    ("key", "pairs", "message"),
    [
        pytest.param("nope", [("c1", {"tier": "x"})], "not a stitching key", id="unknown-key"),
        pytest.param(
            "td_client_id",
            [("c1", {"tier": "x"}), ("c2", {"views": 3})],
            "records[1].attributes.views: 'views' is not an IMPORTED attribute",
            id="not-imported",
        ),
        pytest.param(
            "user_id", [("u1", {}), ("guest", {})], "records[1].value", id="value-fails-regex"
        ),
        pytest.param("user_id", [("u0", {})], "records[0].value", id="excluded-value"),
        pytest.param(
            "td_client_id",
            [("c1", {"tier": ["a"]})],
            "a string, number, boolean or null",
            id="array",
        ),
        pytest.param("td_client_id", [("c1", {"tier": "x" * 600})], "over 500 bytes", id="big"),
    ],
)
async def test_an_invalid_import_writes_nothing(
    service: Service, shop: str, key: str, pairs: list[Any], message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await import_attributes(service, shop, key, *pairs)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (caught.value.details() or "")
    assert service.table_counts()["imported_values"] == 0


async def test_a_workflow_only_key_cannot_be_imported_by(service: Service, shop: str) -> None:
    await service.key(shop, "crm_id", workflow_only=True)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await import_attributes(service, shop, "crm_id", ("k1", {"tier": "x"}))
    assert "workflow-only" in (caught.value.details() or "")


async def test_another_accounts_parent_segment_is_not_found(service: Service, shop: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.profile.ImportAttributes(
            api.ImportAttributesRequest(parent_segment_id=shop, key="td_client_id"),
            metadata=editor(account="2"),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def chunks(
    ps: str, key: str, rows: Iterable[tuple[str, dict[str, Any]]], size: int
) -> AsyncIterator[api.StreamImportAttributesRequest]:
    batch: list[tuple[str, dict[str, Any]]] = []
    first = True
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield api.StreamImportAttributesRequest(
                parent_segment_id=ps if first else "",
                key=key if first else "",
                records=records(*batch),
            )
            first, batch = False, []
    if batch:
        yield api.StreamImportAttributesRequest(records=records(*batch))


async def test_a_streamed_import_reports_progress_per_chunk(service: Service, shop: str) -> None:
    rows = ((f"c{n}", {"tier": f"t{n % 7}"}) for n in range(25_000))
    progress = [
        r.imported
        async for r in service.profile.StreamImportAttributes(
            chunks(shop, "td_client_id", rows, 5_000), metadata=api_key()
        )
    ]
    assert progress == [5_000, 10_000, 15_000, 20_000, 25_000]
    assert values(await service.get_profile(shop, "td_client_id", "c24999"))["tier"][0] == "t2"


async def test_a_bad_record_stops_the_stream_naming_it_and_keeps_earlier_chunks(
    service: Service, shop: str
) -> None:
    rows: list[tuple[str, dict[str, object]]] = [(f"c{n}", {"tier": "x"}) for n in range(300)]
    rows[250] = ("c250", {"views": 1})
    progress: list[int] = []

    async def stream() -> None:
        async for reply in service.profile.StreamImportAttributes(
            chunks(shop, "td_client_id", rows, 100), metadata=api_key()
        ):
            progress.append(reply.imported)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stream()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "records[250]" in (caught.value.details() or "")
    assert progress == [100, 200]
    assert service.table_counts()["imported_values"] == 200


async def test_a_write_only_key_cannot_stream_an_import(service: Service, shop: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in service.profile.StreamImportAttributes(
            chunks(shop, "td_client_id", [("c1", {"tier": "x"})], 1),
            metadata=api_key(role=identity_pb2.ROLE_UNSPECIFIED),
        ):
            pass
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_segment_members_show_on_profiles_with_their_sensitivity(
    service: Service, shop: str
) -> None:
    vip = await service.segment(shop, "vip", "SENSITIVE")
    newsletter = await service.segment(shop, "newsletter")
    await service.track(shop, {"td_client_id": "c1", "user_id": "u1"})
    for segment, key, members in [
        (vip, "user_id", ["u1", "u2"]),
        (newsletter, "td_client_id", ["c1"]),
    ]:
        reply = await service.config.ImportSegmentMembers(
            config_service_pb2.ImportSegmentMembersRequest(
                parent_segment_id=shop, segment_id=segment, key=key, values=members + members
            ),
            metadata=editor(),
        )
        assert reply.imported == len(members)

    profile = await service.get_profile(shop, "td_client_id", "c1")
    assert [(s.name, s.sensitivity) for s in profile.segments] == [
        ("newsletter", 2),  # NON_SENSITIVE
        ("vip", 1),  # SENSITIVE
    ]
    reply = await service.track(shop, {"td_client_id": "c1"})
    assert list(reply.segments) == ["newsletter", "vip"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.config.ImportSegmentMembers(
            config_service_pb2.ImportSegmentMembersRequest(
                parent_segment_id=shop, segment_id="999", key="user_id", values=["u1"]
            ),
            metadata=editor(),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
