"""Every import call is in the audit log: who, when, where, how many and which names.

An import changes what the public path shows as much as a configuration change does, so
``ImportAttributes``, each committed chunk of ``StreamImportAttributes`` and
``ImportSegmentMembers`` write one entry in the transaction of their data. The entry holds
counts and attribute names, never a key value or an attribute value; a refused import writes
neither data nor entry, and a stream that fails keeps exactly the entries of the chunks that
committed.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import config_service_pb2
from p13n.profile.v1 import profile_service_pb2 as api
from support.profile_harness import NOW, Service, editor, metadata

from services.common.events import to_struct

# Values that must never reach the log: key values and attribute values alike.
SECRET_TIER = "tier-value-9f3c"
KEY_VALUE = "c-secret-77"
# Long enough never to turn up by chance in a generated name or id (a two-letter value once did).
OTHER_VALUE = "c-other-5e1d"
USER = identity_pb2.Identity(account_id="1", role=identity_pb2.EDITOR, user_id="12")
KEY = identity_pb2.Identity(
    account_id="1", role=identity_pb2.OWNER, api_key_type=identity_pb2.MASTER, api_key_id="41"
)


def entries(service: Service) -> list[dict[str, Any]]:
    columns = "actor, action, resource_type, resource_id, parent, before, after, time"
    names = columns.split(", ")
    rows = service.rows(f"SELECT {columns} FROM audit_log WHERE action = 'import' ORDER BY id")
    return [dict(zip(names, row, strict=True)) for row in rows]


def whole_log(service: Service) -> str:
    return json.dumps(service.rows("SELECT * FROM audit_log"))


async def test_an_attribute_import_records_who_where_how_many_and_names_only(
    service: Service, shop: str
) -> None:
    await service.attribute(shop, name="score", type="IMPORTED", sensitivity="NON_SENSITIVE")
    service.clock.now = NOW + 60
    reply = await service.profile.ImportAttributes(
        api.ImportAttributesRequest(
            parent_segment_id=shop,
            key="td_client_id",
            records=[
                api.ImportRecord(
                    value=KEY_VALUE, attributes=to_struct({"tier": SECRET_TIER, "score": 4})
                ),
                api.ImportRecord(value=OTHER_VALUE, attributes=to_struct({"tier": None})),
            ],
        ),
        metadata=metadata(USER),
    )
    assert reply.imported == 2

    [entry] = entries(service)
    assert entry["actor"] == "users/12"
    assert entry["time"] == NOW + 60
    assert (entry["resource_type"], entry["resource_id"]) == ("imported_attributes", "td_client_id")
    assert entry["parent"] == f"parent_segments/{shop}"
    assert json.loads(entry["before"]) is None
    assert json.loads(entry["after"]) == {
        "parent_segment_id": shop,
        "stitching_key": "td_client_id",
        "records": 2,
        "attribute_names": ["score", "tier"],
    }
    log = whole_log(service)
    for value in (SECRET_TIER, KEY_VALUE, OTHER_VALUE):
        assert value not in log


async def test_a_refused_import_writes_no_entry(service: Service, shop: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await service.profile.ImportAttributes(
            api.ImportAttributesRequest(
                parent_segment_id=shop,
                key="td_client_id",
                records=[
                    api.ImportRecord(value="c1", attributes=to_struct({"tier": "x"})),
                    api.ImportRecord(value="c2", attributes=to_struct({"views": 1})),
                ],
            ),
            metadata=editor(),
        )
    assert entries(service) == []
    assert service.table_counts()["imported_values"] == 0


async def test_a_failed_stream_keeps_one_entry_per_committed_chunk(
    service: Service, shop: str
) -> None:
    def chunk(start: int, first: bool) -> api.StreamImportAttributesRequest:
        bad = start == 200  # the third chunk names a non-imported attribute in its last record
        return api.StreamImportAttributesRequest(
            parent_segment_id=shop if first else "",
            key="td_client_id" if first else "",
            records=[
                api.ImportRecord(
                    value=f"c{n}",
                    attributes=to_struct(
                        {"views": 1} if bad and n == 299 else {"tier": SECRET_TIER}
                    ),
                )
                for n in range(start, start + 100)
            ],
        )

    async def requests() -> Any:
        for start in (0, 100, 200):
            yield chunk(start, start == 0)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in service.profile.StreamImportAttributes(requests(), metadata=metadata(KEY)):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert service.table_counts()["imported_values"] == 200

    found = entries(service)
    assert [json.loads(e["after"]) for e in found] == [
        {
            "parent_segment_id": shop,
            "stitching_key": "td_client_id",
            "records": 100,
            "attribute_names": ["tier"],
            "streamed": {"chunk": n, "first_record": first, "records_committed": first + 100},
        }
        for n, first in ((1, 0), (2, 100))
    ]
    assert {e["actor"] for e in found} == {"api_keys/41"}
    assert SECRET_TIER not in whole_log(service)


async def test_a_members_import_records_the_segment_and_counts_only(
    service: Service, shop: str
) -> None:
    vip = await service.segment(shop, "vip", "SENSITIVE")
    reply = await service.config.ImportSegmentMembers(
        config_service_pb2.ImportSegmentMembersRequest(
            parent_segment_id=shop, segment_id=vip, key="user_id", values=["u71", "u72", "u71"]
        ),
        metadata=metadata(USER),
    )
    assert reply.imported == 2

    [entry] = entries(service)
    assert (entry["actor"], entry["resource_type"], entry["resource_id"]) == (
        "users/12",
        "segment_members",
        vip,
    )
    assert entry["parent"] == f"parent_segments/{shop}"
    assert json.loads(entry["after"]) == {
        "parent_segment_id": shop,
        "segment_id": vip,
        "stitching_key": "user_id",
        "values_sent": 3,
        "members": 2,
    }
    assert "u71" not in whole_log(service)


async def test_a_refused_members_import_writes_no_entry(service: Service, shop: str) -> None:
    vip = await service.segment(shop, "vip")
    with pytest.raises(grpc.aio.AioRpcError):
        await service.config.ImportSegmentMembers(
            config_service_pb2.ImportSegmentMembersRequest(
                parent_segment_id=shop, segment_id=vip, key="user_id", values=["u1", "nope"]
            ),
            metadata=editor(),
        )
    assert entries(service) == []
    assert service.table_counts()["segment_members"] == 0
