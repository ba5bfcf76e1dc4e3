"""ID stitching through Track and GetProfile: links, merges, protection, the merge log."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from p13n.profile.v1 import profile_service_pb2
from support.profile_harness import Service, editor


def as_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def attributes(profile: Any) -> dict[str, Any]:
    return {a.name: json_format.MessageToDict(a.value) for a in profile.attributes}


def identities(profile: Any) -> set[tuple[str, str]]:
    return {(i.key, i.value) for i in profile.identities}


async def merge_log(service: Service, ps: str) -> list[dict[str, Any]]:
    reply = await service.profile.ListMergeLog(
        profile_service_pb2.ListMergeLogRequest(parent_segment_id=ps, page_size=1000),
        metadata=editor(),
    )
    return [as_dict(entry) for entry in reply.entries]


async def test_anonymous_browsing_then_login_links_two_profiles(
    service: Service, shop: str
) -> None:
    # Anonymous on a laptop, then on a phone: two profiles.
    await service.track(shop, {"td_client_id": "laptop", "td_path": "/a"})
    service.clock.now += 60
    await service.track(shop, {"td_client_id": "phone", "td_path": "/products/1", "product": "hat"})
    service.clock.now += 60
    # Login on the laptop: the user id joins the laptop's profile.
    await service.track(shop, {"td_client_id": "laptop", "user_id": "u42"})
    assert (await service.get_profile(shop, "td_client_id", "phone")).canonical_id == "phone"
    service.clock.now += 60
    # Login on the phone links both: the oldest primary-key value (laptop) is canonical.
    reply = await service.track(shop, {"td_client_id": "phone", "user_id": "u42", "td_path": "/b"})

    assert reply.canonical_id == "laptop"
    for key, value in [("td_client_id", "phone"), ("td_client_id", "laptop"), ("user_id", "u42")]:
        profile = await service.get_profile(shop, key, value)
        assert profile.canonical_id == "laptop"
        assert identities(profile) == {
            ("td_client_id", "laptop"),
            ("td_client_id", "phone"),
            ("user_id", "u42"),
        }
        assert attributes(profile)["views"] == 4  # counters summed: every event counted once
        assert attributes(profile)["last_path"] == "/b"
        assert attributes(profile)["recent"] == {"products": ["hat"]}
    assert service.rows("SELECT count(*) FROM profiles") == [(1,)]
    [entry] = await merge_log(service, shop)
    assert entry["outcome"] == "MERGED"
    assert entry["surviving_profile"] == "laptop"
    assert entry["absorbed_profiles"] == ["phone"]
    assert {(i["key"], i["value"]) for i in entry["linking_values"]} == {
        ("td_client_id", "phone"),
        ("user_id", "u42"),
    }


async def test_a_three_way_merge(service: Service, shop: str) -> None:
    await service.key(shop, "email_hash")
    await service.track(shop, {"td_client_id": "c2", "td_path": "/products/1", "product": "b"})
    service.clock.now += 1
    await service.track(shop, {"td_client_id": "c1", "td_path": "/products/2", "product": "a"})
    service.clock.now += 1
    await service.track(shop, {"user_id": "u1", "email_hash": "e1"})  # no primary key value
    service.clock.now += 1
    await service.track(shop, {"td_client_id": "c3", "email_hash": "e9"})
    assert service.rows("SELECT count(*) FROM profiles") == [(4,)]
    service.clock.now += 1

    reply = await service.track(shop, {"td_client_id": "c1", "user_id": "u1", "email_hash": "e9"})

    assert reply.canonical_id == "c1"
    reply = await service.track(shop, {"td_client_id": "c2", "user_id": "u1"})
    assert reply.canonical_id == "c2"  # c2 was seen first of all: it wins the second merge
    profile = await service.get_profile(shop, "email_hash", "e9")
    assert profile.canonical_id == "c2"
    assert identities(profile) == {
        ("td_client_id", "c1"),
        ("td_client_id", "c2"),
        ("td_client_id", "c3"),
        ("user_id", "u1"),
        ("email_hash", "e1"),
        ("email_hash", "e9"),
    }
    assert attributes(profile)["views"] == 6
    assert attributes(profile)["recent"] == {"products": ["a", "b"]}
    first, second = reversed(await merge_log(service, shop))
    assert first["surviving_profile"] == "c1"
    assert sorted(first["absorbed_profiles"]) == ["c3", "email_hash:e1"]  # no primary key value
    assert second["surviving_profile"] == "c2"
    assert second["absorbed_profiles"] == ["c1"]
    assert service.rows("SELECT count(*) FROM profiles") == [(1,)]


async def test_regex_and_exclusions_keep_bad_values_out(service: Service, shop: str) -> None:
    # user_id must full-match u[0-9]+ and is never "u0" (a test account).
    await service.track(shop, {"td_client_id": "c1", "user_id": "guest"})
    await service.track(shop, {"td_client_id": "c2", "user_id": "u0"})
    await service.track(shop, {"td_client_id": "c3", "user_id": "xu12"})
    await service.track(shop, {"td_client_id": "c4", "user_id": "u0"})

    assert service.rows("SELECT DISTINCT key FROM identities") == [("td_client_id",)]
    assert service.rows("SELECT count(*) FROM profiles") == [(4,)]  # nobody merged via u0
    for bad in ("guest", "u0", "xu12"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await service.get_profile(shop, "user_id", bad)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_merge_protection_refuses_the_51st_profile_and_logs_it(
    service: Service, shop: str
) -> None:
    for n in range(51):
        await service.track(shop, {"td_client_id": f"d{n:02}"})
        service.clock.now += 1
    # A shared device id links 50 profiles, one at a time...
    for n in range(50):
        reply = await service.track(shop, {"td_client_id": f"d{n:02}", "user_id": "u1"})
        assert reply.canonical_id == "d00"
    assert service.rows("SELECT count(*) FROM profiles") == [(2,)]
    # ...and the 51st is refused: the event goes to the profile of its own primary key.
    before = service.rows("SELECT count(*) FROM events")[0][0]
    reply = await service.track(shop, {"td_client_id": "d50", "user_id": "u1", "td_path": "/x"})

    assert reply.canonical_id == "d50"
    assert service.rows("SELECT count(*) FROM events")[0][0] == before + 1
    assert service.rows("SELECT count(*) FROM profiles") == [(2,)]
    d50 = await service.get_profile(shop, "td_client_id", "d50")
    assert identities(d50) == {("td_client_id", "d50")}
    assert attributes(d50)["views"] == 2
    assert attributes(d50)["last_path"] == "/x"
    assert (await service.get_profile(shop, "user_id", "u1")).canonical_id == "d00"
    refused = (await merge_log(service, shop))[0]
    assert refused["outcome"] == "REFUSED"
    assert refused["reason"] == "merge would put 51 profiles into one (limit 50)"
    assert refused["surviving_profile"] == "d50"
    assert refused["absorbed_profiles"] == ["d00"]


async def test_merge_protection_refuses_a_101st_value_of_one_key(
    service: Service, shop: str
) -> None:
    for n in range(1, 101):
        await service.track(shop, {"td_client_id": "bot", "user_id": f"u{n}"})
    reply = await service.track(shop, {"td_client_id": "bot", "user_id": "u101", "td_path": "/y"})
    assert reply.canonical_id == "bot"
    assert len((await service.get_profile(shop, "td_client_id", "bot")).identities) == 101
    assert attributes(await service.get_profile(shop, "td_client_id", "bot"))["views"] == 101
    refused = (await merge_log(service, shop))[0]
    assert refused["outcome"] == "REFUSED"
    assert "101 values of key 'user_id'" in refused["reason"]


async def test_many_concurrent_events_for_one_visitor_lose_no_update(
    service: Service, shop: str
) -> None:
    for device in ("d0", "d1", "d2"):
        await service.track(shop, {"td_client_id": device})
    events = [
        {
            "td_client_id": f"d{n % 3}",
            **({"user_id": "u1"} if n % 2 else {}),
            "td_path": f"/products/{n}",
            "product": f"p{n}",
        }
        for n in range(90)
    ]

    replies = await asyncio.gather(*(service.track(shop, event) for event in events))

    assert {reply.canonical_id for reply in replies} <= {"d0", "d1", "d2"}
    profile = await service.get_profile(shop, "user_id", "u1")
    assert profile.canonical_id == "d0"
    assert attributes(profile)["views"] == 93
    assert set(attributes(profile)["recent"]["products"]) == {f"p{n}" for n in range(90)}
    assert service.rows("SELECT count(*) FROM profiles") == [(1,)]
    assert service.rows("SELECT count(*) FROM events") == [(93,)]


async def test_merge_log_pages_newest_first(service: Service, shop: str) -> None:
    for n in range(5):
        await service.track(shop, {"td_client_id": f"a{n}"})
        await service.track(shop, {"td_client_id": f"b{n}"})
        await service.track(shop, {"td_client_id": f"b{n}", "user_id": f"u{n + 1}"})
        await service.track(shop, {"td_client_id": f"a{n}", "user_id": f"u{n + 1}"})
    seen: list[str] = []
    token = ""
    while True:
        page = await service.profile.ListMergeLog(
            profile_service_pb2.ListMergeLogRequest(
                parent_segment_id=shop, page_size=2, page_token=token
            ),
            metadata=editor(),
        )
        seen += [e.surviving_profile for e in page.entries]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"a{n}" for n in reversed(range(5))]


async def test_profiles_and_merge_log_are_scoped_to_the_account(
    service: Service, shop: str
) -> None:
    await service.track(shop, {"td_client_id": "c1"})
    for call in (
        service.profile.GetProfile(
            profile_service_pb2.GetProfileRequest(
                parent_segment_id=shop, key="td_client_id", value="c1"
            ),
            metadata=editor(account="2"),
        ),
        service.profile.ListMergeLog(
            profile_service_pb2.ListMergeLogRequest(parent_segment_id=shop),
            metadata=editor(account="2"),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
