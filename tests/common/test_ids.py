"""Ids as clients send them: one spelling per id, anything else an unknown id (404)."""

from __future__ import annotations

from typing import Any

import pytest
from p13n.auth.v1 import audit_pb2, internal_service_pb2
from p13n.offers.v1 import internal_service_pb2 as offers_internal_pb2
from p13n.profile.v1 import config_service_pb2 as api
from p13n.profile.v1 import internal_service_pb2 as profile_internal_pb2

from services.common.convert import path_id
from services.common.errors import NotFound
from services.common.ids import MAX_ID, check_request_ids, parse_id


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("1", 1, id="one"),
        pytest.param("42", 42, id="small"),
        pytest.param(str(MAX_ID), MAX_ID, id="int64-max"),
    ],
)
def test_an_id_reads_as_its_number(text: str, value: int) -> None:
    assert parse_id(text, "segment_id") == value
    assert path_id(text) == value


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("0", id="zero"),
        pytest.param("007", id="leading-zero"),
        pytest.param("-1", id="negative"),
        pytest.param("+1", id="plus"),
        pytest.param(" 1", id="leading-blank"),
        pytest.param("1\n", id="trailing-newline"),
        pytest.param("1e3", id="exponent"),
        pytest.param("0x10", id="hex"),
        pytest.param("1_000", id="underscore"),
        pytest.param(str(MAX_ID + 1), id="int64-max-plus-one"),
        pytest.param("99999999999999999999999999", id="beyond-int64"),
        pytest.param("9" * 5000, id="beyond-int-str-digits"),
        pytest.param("\u00b2", id="superscript-two"),
        pytest.param("\u0663", id="arabic-indic-three"),
        pytest.param("\uff11", id="fullwidth-one"),
        pytest.param("1\x00", id="nul"),
    ],
)
def test_anything_else_is_an_unknown_id(text: str) -> None:
    with pytest.raises(NotFound) as raised:
        parse_id(text, "segment_id")
    assert raised.value.field == "segment_id"
    assert raised.value.message.startswith("Segment ")
    assert raised.value.message.endswith(" not found")
    assert len(raised.value.message) < 80  # a hostile id is not echoed whole
    assert path_id(text) == -1


def test_a_parent_segment_reads_as_every_service_words_it() -> None:
    with pytest.raises(NotFound, match=r"^Parent segment '-1' not found$"):
        parse_id("-1", "parent_segment_id")
    with pytest.raises(NotFound, match=r"^API key 'x' not found$"):
        parse_id("x", "api_key_id")


def test_every_id_field_of_a_request_is_checked() -> None:
    check_request_ids(api.GetSegmentRequest(parent_segment_id="1", segment_id="2"))
    with pytest.raises(NotFound) as raised:
        check_request_ids(api.GetSegmentRequest(parent_segment_id="1", segment_id="1e3"))
    assert raised.value.field == "segment_id"


def test_an_empty_id_is_left_to_the_handler() -> None:
    check_request_ids(internal_service_pb2.CheckCredentialRequest(session_id="5"))


@pytest.mark.parametrize(
    "request_type",
    [
        pytest.param(audit_pb2.ListAuditEntriesRequest, id="auth"),
        # The auth service passes the filter on to these (found by tests/e2e/test_openapi_fuzz.py:
        # GET /v1/audit_log?resource_id=x answered 404 from the profile service).
        pytest.param(profile_internal_pb2.ListAuditEntriesRequest, id="profile"),
        pytest.param(offers_internal_pb2.ListAuditEntriesRequest, id="offers"),
    ],
)
def test_a_filter_named_like_an_id_is_not_an_id(request_type: Any) -> None:
    """The audit log's resource_id only filters: a value naming nothing lists nothing."""
    check_request_ids(request_type(resource_id="not-an-id"))
