"""The Ingest API through the real Envoy: JSON over HTTP, and native gRPC with an API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from p13n.profile.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from support import stored as stored_rows
from support.admin import Account
from support.http import Response, request
from support.suite import Suite

from services.common.events import to_struct

TABLE = "/records/shop_db/page_views"

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def ps(account: Account) -> str:
    ps = account.parent_segment()
    account.ok("POST", f"/v1/parent_segments/{ps}/stitching_keys", {"name": "user_id"})
    account.counted_page_views(ps)
    return ps


def ingest(suite: Suite, account: Account, body: Any, path: str = TABLE) -> Response:
    return request(
        "POST",
        suite.data_port,
        path,
        headers={"authorization": f"TD1 {account.api_key}"},
        body=body,
        timeout=30,
    )


def stored(suite: Suite, client_id: str) -> int:
    """How many of the stored events name ``client_id``."""
    field = stored_rows.json_text(stored_rows.dialect_of(suite.settings), "body", "td_client_id")
    query = f"SELECT count(*) FROM events WHERE {field} = ?"
    [(count,)] = stored_rows.rows(suite.settings, "profile", query, client_id)
    return int(count)


def profile(account: Account, ps: str, key: str, value: str) -> dict[str, Any]:
    result: dict[str, Any] = account.ok("GET", f"/v1/parent_segments/{ps}/profiles/{key}/{value}")
    return result


def views(found: dict[str, Any]) -> Any:
    return {a["name"]: a["value"] for a in found["attributes"]}["views"]


def test_a_batch_is_stored_and_updates_profiles(suite: Suite, account: Account, ps: str) -> None:
    reply = ingest(
        suite,
        account,
        {
            "records": [
                {"td_client_id": "ok1", "price": 28700},
                {"td_client_id": "ok2"},
                {"td_client_id": "ok2", "user_id": "u1"},
                {"td_client_id": "ok1", "user_id": "u1"},
            ]
        },
    )
    assert (reply.status, reply.json()) == (200, {"received": 4})
    found = profile(account, ps, "user_id", "u1")
    assert found["canonical_id"] == "ok1"
    assert views(found) == 4
    log = account.ok("GET", f"/v1/parent_segments/{ps}/merge_log")
    assert log["entries"][0]["surviving_profile"] == "ok1"
    assert log["entries"][0]["outcome"] == "MERGED"


@pytest.mark.usefixtures("ps")
def test_a_batch_with_one_bad_record_stores_nothing(suite: Suite, account: Account) -> None:
    records: list[Any] = [{"td_client_id": "bad1"}] * 3 + [{"page": "/no-id"}]
    reply = ingest(suite, account, {"records": records})
    assert reply.status == 400
    assert reply.json()["message"] == (
        "records[3]: event has no identifier: expected one of td_client_id, user_id"
    )
    assert stored(suite, "bad1") == 0
    reply = ingest(suite, account, {"records": [{"td_client_id": "bad1"}, 7]})
    assert reply.status == 400
    assert "records[1]" in reply.json()["message"]
    assert stored(suite, "bad1") == 0


@pytest.mark.usefixtures("ps")
@pytest.mark.parametrize(
    ("count", "status"), [pytest.param(500, 200, id="500"), pytest.param(501, 400, id="501")]
)
def test_at_most_500_records(suite: Suite, account: Account, count: int, status: int) -> None:
    reply = ingest(suite, account, {"records": [{"td_client_id": f"n{count}"}] * count})
    assert reply.status == status
    assert stored(suite, f"n{count}") == (count if status == 200 else 0)


@pytest.mark.usefixtures("ps")
def test_a_request_over_5_mib_is_413(suite: Suite, account: Account) -> None:
    blob = "x" * (900 * 1024)
    reply = ingest(
        suite, account, {"records": [{"td_client_id": "big", "blob": blob} for _ in range(6)]}
    )
    assert reply.status == 413
    assert reply.headers["content-type"] == "application/json"
    assert stored(suite, "big") == 0


@pytest.mark.usefixtures("ps")
def test_a_record_over_1_mib_is_400_naming_it(suite: Suite, account: Account) -> None:
    records = [{"td_client_id": "big1"}, {"td_client_id": "big1", "blob": "x" * (1 << 20)}]
    reply = ingest(suite, account, {"records": records})
    assert reply.status == 400
    assert reply.json()["message"].startswith("records[1] is larger than 1 MiB")
    assert stored(suite, "big1") == 0


@pytest.mark.usefixtures("ps")
@pytest.mark.parametrize("depth", [33, 40])
def test_nesting_deeper_than_32_levels_is_400(suite: Suite, account: Account, depth: int) -> None:
    deep: Any = "leaf"
    for _ in range(depth - 1):
        deep = {"x": deep}
    reply = ingest(suite, account, {"records": [{"td_client_id": "deep", "d": deep}]})
    assert reply.status == 400
    assert "32 levels" in reply.json()["message"]
    assert stored(suite, "deep") == 0


@pytest.mark.usefixtures("ps")
def test_a_table_of_no_parent_segment_of_the_account_is_404(suite: Suite, account: Account) -> None:
    reply = ingest(suite, account, {"records": [{"td_client_id": "x"}]}, "/records/shop_db/orders")
    assert reply.status == 404
    assert "shop_db.orders" in reply.json()["message"]
    other = Account.create(suite)
    reply = ingest(suite, other, {"records": [{"td_client_id": "x"}]})
    assert reply.status == 404


@pytest.fixture(scope="module")
def native(suite: Suite) -> Iterator[Any]:
    """A gRPC client of the Ingest API: through the gateway, the one door (no certificate)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{suite.data_port}")
    yield ingest_service_pb2_grpc.IngestServiceStub(channel)
    channel.close()


@pytest.mark.usefixtures("ps")
def test_a_grpc_call_through_the_gateway_is_authenticated_like_the_http_path(
    suite: Suite, account: Account, native: Any
) -> None:
    request_ = ingest_service_pb2.IngestRecordsRequest(
        database="shop_db", table="page_views", records=[to_struct({"td_client_id": "grpc1"})]
    )
    reply = native.IngestRecords(
        request_, metadata=(("authorization", f"TD1 {account.api_key}"),), timeout=10
    )
    assert reply.received == 1
    for metadata in [(), (("authorization", "TD1 p13nmk_not-a-real-key"),)]:
        with pytest.raises(grpc.RpcError) as caught:
            native.IngestRecords(request_, metadata=metadata, timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert stored(suite, "grpc1") == 1
