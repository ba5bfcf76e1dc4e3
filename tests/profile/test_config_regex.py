"""Regexes through the real ConfigService and Track: refused on save, leftovers loaded."""

from __future__ import annotations

import json
import logging
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from p13n.profile.v1 import config_service_pb2
from p13n.profile.v1 import realtime_config_pb2 as pb
from support.profile_harness import Service, editor

from services.profile import patterns

UNSUPPORTED = "(patterns run on RE2, which has no backreferences or lookarounds)"


def _refusal(caught: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> tuple[Any, ...]:
    error = caught.value
    details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    info = error_details_pb2.ErrorInfo()
    assert status_pb2.Status.FromString(details).details[0].Unpack(info)
    return error.code(), error.details(), info.reason, info.metadata["field"]


async def _save_event(service: Service, ps: str, regex: str) -> None:
    await service.config.CreateEventDefinition(
        config_service_pb2.CreateEventDefinitionRequest(
            parent_segment_id=ps,
            event=pb.EventDefinition(
                name="hit",
                database="shop_db",
                table="page_views",
                filters=[
                    pb.EventFilter(field="td_path", regex="/.*"),
                    pb.EventFilter(field="user_id", regex=regex),
                ],
            ),
        ),
        metadata=editor(),
    )


async def _save_key(service: Service, ps: str, regex: str) -> None:
    await service.config.CreateStitchingKey(
        config_service_pb2.CreateStitchingKeyRequest(
            parent_segment_id=ps, stitching_key=pb.StitchingKey(name="user_id", regex=regex)
        ),
        metadata=editor(),
    )


SAVES = [
    pytest.param(_save_event, "event.filters[1].regex", "event_definitions", id="event-filter"),
    pytest.param(_save_key, "stitching_key.regex", "stitching_keys", id="stitching-key"),
]


@pytest.mark.parametrize(("save", "field", "table"), SAVES)
@pytest.mark.parametrize(
    ("regex", "message", "reason"),
    [
        pytest.param(
            "(a",
            "Regex '(a' is invalid: missing ), unterminated subpattern at position 0",
            "INVALID_ARGUMENT",
            id="syntax-error",
        ),
        pytest.param(
            r"(u)\1",
            f"Regex '(u)\\\\1' is not supported: invalid escape sequence: \\1 {UNSUPPORTED}",
            "REGEX_UNSUPPORTED",
            id="backreference",
        ),
        pytest.param(
            "(?!u0)u[0-9]+",
            f"Regex '(?!u0)u[0-9]+' is not supported: invalid perl operator: (?! {UNSUPPORTED}",
            "REGEX_UNSUPPORTED",
            id="lookahead",
        ),
    ],
)
async def test_a_regex_is_refused_on_save_naming_the_field(
    service: Service, save: Any, field: str, table: str, regex: str, message: str, reason: str
) -> None:
    ps = await service.parent_segment()
    before = service.rows(f"SELECT count(*) FROM {table}")  # the table the save writes to
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await save(service, ps, regex)
    assert _refusal(caught) == (grpc.StatusCode.INVALID_ARGUMENT, message, reason, field)
    assert service.rows(f"SELECT count(*) FROM {table}") == before


async def test_a_stored_regex_re2_refuses_loads_and_matches_nothing(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """A configuration saved before RE2 may hold a backreference: the data path still runs."""
    caplog.set_level(logging.WARNING, logger=patterns.__name__)
    ps = await service.parent_segment()
    await service.key(ps, "user_id", "u+")
    await service.event(ps, "hit", "shop_db", "page_views", td_path="a+")
    event = {"td_client_id": "c1", "user_id": "uu", "td_path": "aa"}
    first = await service.track(ps, event)
    assert list(first.matched_events) == ["hit"]

    # What an older release accepted: both match "uu"/"aa" under Python's re.
    filters = json.dumps([{"field": "td_path", "regex": r"(a)\1"}])
    # Committed beside the running service, as an older release's write would be.
    service.rows("UPDATE event_definitions SET filters = ?", filters)
    service.rows("UPDATE stitching_keys SET regex = ? WHERE name = 'user_id'", r"(u)\1")
    service.rows("UPDATE parent_segments SET config_version = config_version + 1")

    reply = await service.track(ps, {**event, "td_client_id": "c2"})
    assert list(reply.matched_events) == []
    assert service.rows("SELECT key, value FROM identities WHERE key = 'user_id'") == [
        ("user_id", "uu")  # from the first event only: c2's "uu" is no longer usable
    ]
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert f"parent segment {ps}, event definition 'hit'" in logged
    assert "stitching key 'user_id'" in logged
    assert "uu" not in logged
    assert "aa" not in logged
