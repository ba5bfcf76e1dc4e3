"""Batch imports as a user runs them: JSON through the admin API, large files streamed by gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from p13n.profile.v1 import profile_service_pb2 as api
from p13n.profile.v1 import profile_service_pb2_grpc
from support.admin import Account
from support.http import request
from support.suite import Suite

from services.common.events import to_struct

pytestmark = pytest.mark.both_backends

ROWS = 100_000
CHUNK = 5_000


@pytest.fixture(scope="module")
def ps(account: Account) -> str:
    ps = account.parent_segment()
    account.ok("POST", f"/v1/parent_segments/{ps}/stitching_keys", {"name": "member_id"})
    account.event(ps, "page_view", "shop_db", "page_views")
    for name, sensitivity in [("tier", "SENSITIVE"), ("points", "NON_SENSITIVE")]:
        account.ok(
            "POST",
            f"/v1/parent_segments/{ps}/attributes",
            {
                "name": name,
                "type": "IMPORTED",
                "sensitivity": sensitivity,
            },
        )
    return ps


def profile(account: Account, ps: str, key: str, value: str) -> dict[str, Any]:
    result: dict[str, Any] = account.ok("GET", f"/v1/parent_segments/{ps}/profiles/{key}/{value}")
    return result


def attributes(found: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    return {a["name"]: (a["value"], a["sensitivity_summary"]) for a in found["attributes"]}


def chunks(ps: str) -> Iterator[api.StreamImportAttributesRequest]:
    for start in range(0, ROWS, CHUNK):
        yield api.StreamImportAttributesRequest(
            parent_segment_id=ps if start == 0 else "",
            key="member_id" if start == 0 else "",
            records=[
                api.ImportRecord(
                    value=f"m{n}", attributes=to_struct({"tier": f"t{n % 3}", "points": n})
                )
                for n in range(start, start + CHUNK)
            ],
        )


def test_a_100000_row_streamed_import_reports_progress_and_reaches_profiles(
    suite: Suite, account: Account, ps: str
) -> None:
    # Client streaming cannot be transcoded: the admin listener lets this one gRPC method
    # in, with the admin API's credentials (an API key here), unbuffered.
    with grpc.insecure_channel(f"127.0.0.1:{suite.admin_port}") as channel:
        stub = profile_service_pb2_grpc.ProfileServiceStub(channel)
        progress = [
            reply.imported
            for reply in stub.StreamImportAttributes(
                chunks(ps), metadata=(("authorization", f"TD1 {account.api_key}"),), timeout=120
            )
        ]
    assert progress == list(range(CHUNK, ROWS + 1, CHUNK))

    # Through the admin API: imported values show on profiles with their sensitivity.
    for n in (0, 54_321, ROWS - 1):
        found = profile(account, ps, "member_id", f"m{n}")
        assert attributes(found) == {
            "tier": (f"t{n % 3}", "Sensitive"),
            "points": (n, "Non-Sensitive"),
        }
    # An event that links a visitor to a member carries the member's values at once.
    reply = suite_ingest(suite, account, {"td_client_id": "visitor", "member_id": "m77"})
    assert reply == {"received": 1}
    found = profile(account, ps, "td_client_id", "visitor")
    assert found["canonical_id"] == "visitor"
    assert attributes(found)["points"] == (77, "Non-Sensitive")


def suite_ingest(suite: Suite, account: Account, record: dict[str, Any]) -> Any:
    reply = request(
        "POST",
        suite.data_port,
        "/records/shop_db/page_views",
        headers={"authorization": f"TD1 {account.api_key}"},
        body={"records": [record]},
    )
    assert reply.status == 200, reply.body
    return reply.json()


def test_json_imports_and_segment_members_through_the_admin_api(account: Account, ps: str) -> None:
    imported = account.ok(
        "POST",
        f"/v1/parent_segments/{ps}/imports",
        {"key": "td_client_id", "records": [{"value": "c1", "attributes": {"tier": "gold"}}]},
    )
    assert imported == {"imported": 1}
    vip = account.ok(
        "POST",
        f"/v1/parent_segments/{ps}/segments",
        {"name": "vip", "sensitivity": "SENSITIVE"},
    )["id"]
    members = account.ok(
        "POST",
        f"/v1/parent_segments/{ps}/segments/{vip}:import_members",
        {"key": "td_client_id", "values": ["c1", "c2"]},
    )
    assert members == {"imported": 2}
    found = profile(account, ps, "td_client_id", "c1")
    assert attributes(found)["tier"] == ("gold", "Sensitive")
    assert found["segments"] == [{"name": "vip", "sensitivity": "SENSITIVE"}]

    refused = account.call(
        "POST",
        f"/v1/parent_segments/{ps}/imports",
        {"key": "td_client_id", "records": [{"value": "c1", "attributes": {"nope": 1}}]},
    )
    assert refused.status == 400
    assert "records[0].attributes.nope" in refused.json()["message"]
    missing = account.call("GET", f"/v1/parent_segments/{ps}/profiles/td_client_id/nobody")
    assert missing.status == 404
