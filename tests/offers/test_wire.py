"""The encoded answers: the JSON the gateway sends as it is, and the hand-made typed
messages, each in the order it was given."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from google.api import httpbody_pb2
from hypothesis import given
from hypothesis import strategies as st
from p13n.offers.v1 import personalization_config_service_pb2 as config_api
from p13n.offers.v1 import personalize_service_pb2 as api
from support.offers_harness import json_of, json_order, message_fields, wire_order

from services.offers import wire

NAMES = st.text(max_size=8)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(NAMES, children, max_size=3),
    max_leaves=10,
)
SECTIONS = st.dictionaries(
    NAMES,
    st.just({}) | st.builds(lambda a: {"attributes": a}, st.dictionaries(NAMES, JSON, max_size=4)),
    max_size=5,
)


def _message(offers: dict[str, Any]) -> api.PersonalizeResponse:
    message = api.PersonalizeResponse()
    for name, section in offers.items():
        offer = message.offers.add(name=name).offer
        offer.SetInParent()
        if "attributes" in section:
            offer.attributes.update(section["attributes"])
            offer.SetInParent()
            offer.attributes.SetInParent()
    return message


@given(offers=SECTIONS)
def test_the_encoding_is_the_message_in_order(offers: dict[str, Any]) -> None:
    data = wire.personalize_response(offers)
    assert api.PersonalizeResponse.FromString(data) == _message(offers)
    assert wire_order(data) == [
        (name, list(section.get("attributes", {}))) for name, section in offers.items()
    ]


@pytest.mark.parametrize("size", [127, 128, 16383, 16384, 2_100_000], ids=str)
def test_lengths_of_every_varint_size(size: int) -> None:
    # A length takes one byte below 128, two below 16384, then three and more.
    offers = {"s": {"attributes": {"text": "é" * (size // 2) + "x" * (size % 2)}}}
    data = wire.personalize_response(offers)
    assert api.PersonalizeResponse.FromString(data) == _message(offers)


def test_a_redacted_section_and_an_empty_one_differ() -> None:
    data = wire.personalize_response({"redacted": {}, "empty": {"attributes": {}}})
    redacted, empty = api.PersonalizeResponse.FromString(data).offers
    assert (redacted.name, empty.name) == ("redacted", "empty")
    assert not redacted.offer.HasField("attributes")
    assert empty.offer.HasField("attributes")


def test_the_preview_encoding_carries_both_answers_in_order() -> None:
    sections = [config_api.SectionPreview(name="b", matched=True)]
    data = wire.preview_response(
        {"b": {}, "a": {"attributes": {"y": 1, "x": 2}}},
        {"b": {"attributes": {"s": "secret"}}, "a": {"attributes": {"y": 1, "x": 2}}},
        sections,
        ["careful"],
    )
    parsed = config_api.PreviewPersonalizationResponse.FromString(data)
    assert list(parsed.sections) == sections
    assert list(parsed.warnings) == ["careful"]
    parts = dict(message_fields(data))
    assert wire_order(parts[1]) == [("b", []), ("a", ["y", "x"])]
    assert wire_order(parts[2]) == [("b", ["s"]), ("a", ["y", "x"])]


# What Envoy 1.40's transcoder printed for these strings when the answer was a
# PersonalizeResponse (recorded through the real gateway before the answers became JSON
# text): protobuf's printer escapes <, > and invisible or line-separating characters.
PRINTED_BY_THE_GATEWAY = [
    pytest.param("Ω café 日本 😀", '"Ω café 日本 😀"', id="unicode-as-is"),
    pytest.param(
        "<script>alert('x')</script> & \"q\" =",
        '"\\u003cscript\\u003ealert(\'x\')\\u003c/script\\u003e & \\"q\\" ="',
        id="html",
    ),
    pytest.param("a\u2028b\u2029c", '"a\\u2028b\\u2029c"', id="line-separators"),
    pytest.param("\x01\x1f\x7f", '"\\u0001\\u001f\\u007f"', id="controls"),
    pytest.param("a\tb\nc\\d/e\r\b\f", '"a\\tb\\nc\\\\d/e\\r\\b\\f"', id="short-escapes"),
    pytest.param("\x80\x9f\xa0\xad\xae", '"\\u0080\\u009f\xa0\\u00ad\xae"', id="latin-1"),
    pytest.param(
        "\u05ff\u0600\u0603\u0604\u06dd\u070f",
        '"\u05ff\\u0600\\u0603\u0604\\u06dd\\u070f"',
        id="arabic-syriac",
    ),
    pytest.param("\u17b3\u17b4\u17b5\u17b6", '"\u17b3\\u17b4\\u17b5\u17b6"', id="khmer"),
    pytest.param(
        "\u200a\u200b\u200f\u2010\u2027\u202e\u202f",
        '"\u200a\\u200b\\u200f\u2010\u2027\\u202e\u202f"',
        id="zero-width-and-bidi",
    ),
    pytest.param(
        "\u205f\u2060\u2064\u2065\u206a\u206f\u2070",
        '"\u205f\\u2060\\u2064\u2065\\u206a\\u206f\u2070"',
        id="invisible-operators",
    ),
    pytest.param(
        "\ufeff\ufff8\ufff9\ufffb\ufffc\ufffd",
        '"\\ufeff\ufff8\\ufff9\\ufffb\ufffc\ufffd"',
        id="bom-and-annotations",
    ),
    pytest.param(
        "\U0001d172\U0001d173\U0001d17a\U0001d17b",
        '"\U0001d172\\ud834\\udd73\\ud834\\udd7a\U0001d17b"',
        id="music-formatting",
    ),
    pytest.param(
        "\U000e0000\U000e0001\U000e0002\U000e001f\U000e0020\U000e007f\U000e0080",
        '"\U000e0000\\udb40\\udc01\U000e0002\U000e001f\\udb40\\udc20\\udb40\\udc7f\U000e0080"',
        id="language-tags",
    ),
    pytest.param("'&=`", '"\'&=`"', id="quote-ampersand"),
]


def _body(data: bytes) -> bytes:
    body = httpbody_pb2.HttpBody.FromString(data)
    assert body.content_type == "application/json"
    payload: bytes = body.data  # google.api's modules are untyped here
    return payload


@given(offers=SECTIONS)
def test_the_json_body_is_the_answer_in_order(offers: dict[str, Any]) -> None:
    data = wire.json_body(offers)
    text = json_of(data).decode()
    assert json.loads(text) == {"offers": offers}
    assert json_order(text.encode()) == [
        (name, list(section.get("attributes", {}))) for name, section in offers.items()
    ]
    # Compact: json.dumps's own text, but for the printer's extra escapes. The test reads
    # wire's private table of those escapes so that a character added there is checked here.
    escapes = wire._PRINTER_ESCAPES  # noqa: SLF001
    assert escapes.search(text) is None
    plain = json.dumps({"offers": offers}, ensure_ascii=False, separators=(",", ":"))
    if escapes.search(plain) is None:
        assert text == plain


@pytest.mark.parametrize(("value", "printed"), PRINTED_BY_THE_GATEWAY)
def test_strings_print_as_the_gateway_printed_them(value: str, printed: str) -> None:
    body = _body(wire.json_body({"s": {"attributes": {"k": value, value: "key"}}}))
    # As a value and as a key.
    expected = '{"offers":{"s":{"attributes":{"k":' + printed + "," + printed + ':"key"}}}}'
    assert body == expected.encode()


def test_numbers_print_as_json_numbers() -> None:
    attributes = {"int": 28700, "neg": -5, "half": 1.5, "tenth": 0.1, "big": 1e17}
    body = _body(wire.json_body({"s": {"attributes": attributes}}))
    # As the gateway printed them.
    assert body == (
        b'{"offers":{"s":{"attributes":{"int":28700,"neg":-5,"half":1.5,"tenth":0.1,"big":1e+17}}}}'
    )


@pytest.mark.parametrize(
    ("value", "printed", "gateway_printed"),
    [
        # Shortest round trip here, where protobuf's printer tried 15 then 17 digits.
        pytest.param(3.141592653589793, b"3.141592653589793", b"3.1415926535897931", id="pi"),
        pytest.param(5e-324, b"5e-324", b"4.94065645841247e-324", id="denormal"),
        # An integer of 16 digits (rendering makes integral doubles up to 2**53 ints).
        pytest.param(10**15, b"1000000000000000", b"1e+15", id="1e15"),
        # orjson spells a small exponent without the padding zero.
        pytest.param(1e-7, b"1e-7", b"1e-07", id="1e-7"),
    ],
)
def test_numbers_the_gateway_printed_otherwise_are_the_same_numbers(
    value: float, printed: bytes, gateway_printed: bytes
) -> None:
    body = _body(wire.json_body({"s": {"attributes": {"n": value}}}))
    assert body == b'{"offers":{"s":{"attributes":{"n":' + printed + b"}}}}"
    assert json.loads(printed) == json.loads(gateway_printed) == value


def test_an_empty_answer_and_a_redacted_section() -> None:
    assert _body(wire.json_body({})) == b'{"offers":{}}'
    assert _body(wire.json_body({"r": {}, "e": {"attributes": {}}})) == (
        b'{"offers":{"r":{},"e":{"attributes":{}}}}'
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_is_printed_as_null_never_as_invalid_json(value: float) -> None:
    # rendering.to_json makes them null before they get here; the printer does too.
    body = _body(wire.json_body({"s": {"attributes": {"n": value}}}))
    assert body == b'{"offers":{"s":{"attributes":{"n":null}}}}'
