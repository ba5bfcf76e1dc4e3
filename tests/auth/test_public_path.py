"""The browser path decided in the single-process mode: what it reads of the gateway's
request. Its answers against the per-service path's: tests/e2e/test_public_path.py."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from services.auth import authz
from services.auth.public_path import (
    CLIENT_ADDRESS_HEADER,
    BrowserRequest,
    decision_request,
    event_of,
    names_of,
)


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/public/shop_db/page_views", ("shop_db", "page_views")),
        # Path variables are percent-decoded, as the transcoder decodes them per service.
        ("/public/shop%5Fdb/page%20views", ("shop_db", "page views")),
        ("/public/shop_db", None),
        ("/public/shop_db/page_views/more", None),
        ("/public//page_views", None),
        ("/private/shop_db/page_views", None),
    ],
)
def test_the_two_names_of_the_browser_path(path: str, names: tuple[str, str] | None) -> None:
    assert names_of(path) == names


def test_the_decision_reads_the_gateways_address_and_the_whole_body() -> None:
    body = b'{"td_client_id": "a"}'
    request = BrowserRequest(
        "/public/db/t",
        {
            "content-type": "application/json",
            CLIENT_ADDRESS_HEADER: "198.18.0.7",
            # A client's claim that the body was cut short, which would skip the body check.
            authz.PARTIAL_BODY: "true",
            "content-length": "999",
        },
        body,
    )
    asked = decision_request("db", "t", request)
    assert asked.client_ip == "198.18.0.7"
    assert asked.path == "/public/db/t"
    assert asked.body == body
    assert authz.PARTIAL_BODY not in asked.headers
    assert asked.headers["content-length"] == str(len(body))


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _as_transcoder_reads(body: bytes) -> struct_pb2.Struct:
    event = struct_pb2.Struct()
    json_format.Parse(body, event)
    return event


@given(st.dictionaries(st.text(), _JSON_VALUES, max_size=6))
def test_an_event_is_read_as_the_transcoder_reads_it(values: dict[str, object]) -> None:
    body = json.dumps(values, ensure_ascii=False).encode()
    read, expected = event_of(body), _as_transcoder_reads(body)
    assert read == expected
    # The same keys in the same order: the stored event keeps it.
    assert list(read.fields) == list(expected.fields)


@pytest.mark.parametrize(
    "body",
    [
        b'{"n": 1e400}',  # beyond a double: orjson refuses, json_format reads it as infinity
        b'{"n": 18446744073709551616, "m": -0.0, "e": 1e-7, "u": "\\u00e9\\ud83d\\ude00"}',
        b'{"deep": ' + b"[" * 20 + b"]" * 20 + b"}",
    ],
)
def test_numbers_and_escapes_are_read_as_the_transcoder_reads_them(body: bytes) -> None:
    assert event_of(body) == _as_transcoder_reads(body)


def test_an_event_too_deep_for_offers_is_refused_as_offers_refuses_it() -> None:
    with pytest.raises((json_format.ParseError, DecodeError)):
        event_of(b'{"deep": ' + b"[" * 60 + b"]" * 60 + b"}")
