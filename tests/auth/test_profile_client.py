"""The auth service's client of the profile service: event tables for the directory, and a
parent segment's reactor for the registry, with the profile service's refusals translated."""

from __future__ import annotations

import os
from typing import Any

import grpc
import pytest
from p13n.profile.v1 import config_service_pb2, internal_service_pb2, parent_segment_pb2

from services.auth.profile_client import ProfileClient
from services.common import identity
from services.common.errors import NotFound, Unavailable

KEY = os.urandom(32)


def _refused(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "refused")


class _Profile:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def ListEventTables(
        self, _request: internal_service_pb2.ListEventTablesRequest, **kwargs: Any
    ) -> internal_service_pb2.ListEventTablesResponse:
        self.calls.append(kwargs)
        table = internal_service_pb2.EventTable
        return internal_service_pb2.ListEventTablesResponse(
            tables=[
                table(database="shop", table="views", parent_segment_id="1"),
                table(database="shop", table="views", parent_segment_id="2"),
                table(database="shop", table="orders", parent_segment_id="1"),
            ]
        )


class _Config:
    def __init__(self, code: grpc.StatusCode | None = None) -> None:
        self.code = code

    async def GetParentSegment(
        self, request: config_service_pb2.GetParentSegmentRequest, **_: Any
    ) -> parent_segment_pb2.ParentSegment:
        if self.code is not None:
            raise _refused(self.code)
        return parent_segment_pb2.ParentSegment(reactor_id=f"r{request.parent_segment_id}")


async def test_event_tables_group_parent_segments_by_table_asked_as_auth() -> None:
    profile = _Profile()
    tables = await ProfileClient(profile, _Config(), KEY).event_tables(2.0, patient=True)
    assert tables == {("shop", "views"): {"1", "2"}, ("shop", "orders"): {"1"}}
    call = profile.calls[0]
    assert (call["timeout"], call["wait_for_ready"]) == (2.0, True)
    caller = identity.verify(dict(call["metadata"])[identity.IDENTITY_HEADER], KEY)
    assert caller.caller_service == "auth"


async def test_reactor_id_of_a_parent_segment() -> None:
    assert await ProfileClient(_Profile(), _Config(), KEY).reactor_id_of("2") == "r2"


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        pytest.param(
            grpc.StatusCode.NOT_FOUND, NotFound, "Parent segment '9' not found", id="not-found"
        ),
        pytest.param(
            grpc.StatusCode.UNAVAILABLE,
            Unavailable,
            "The profile service cannot answer; retry shortly",
            id="down",
        ),
        pytest.param(
            grpc.StatusCode.PERMISSION_DENIED,
            Unavailable,
            "The profile service cannot answer; retry shortly",
            id="other",
        ),
    ],
)
async def test_reactor_id_refusals_are_translated(
    code: grpc.StatusCode, error: type[Exception], message: str
) -> None:
    client = ProfileClient(_Profile(), _Config(code), KEY)
    with pytest.raises(error) as caught:
        await client.reactor_id_of("9")
    assert str(caught.value) == message
