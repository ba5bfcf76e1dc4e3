"""The hand-made wire encoding is the ordinary message, in the order it was given."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from p13n.offers.v1 import personalization_config_service_pb2 as config_api
from p13n.offers.v1 import personalize_service_pb2 as api
from support.offers_harness import message_fields, wire_order

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
        offer = message.offers[name]
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


def test_a_redacted_section_and_an_empty_one_differ() -> None:
    data = wire.personalize_response({"redacted": {}, "empty": {"attributes": {}}})
    offers = api.PersonalizeResponse.FromString(data).offers
    assert not offers["redacted"].HasField("attributes")
    assert offers["empty"].HasField("attributes")


def test_the_preview_encoding_carries_both_answers_in_order() -> None:
    sections = [config_api.SectionPreview(name="b", matched=True)]
    data = wire.preview_response(
        {"b": {}, "a": {"attributes": {"y": 1, "x": 2}}},
        {"b": {"attributes": {"s": "secret"}}, "a": {"attributes": {"y": 1, "x": 2}}},
        sections,
        ["careful"],
    )
    parsed = config_api.PreviewPersonalizationResponse.FromString(data)
    assert list(parsed.sections) == sections and list(parsed.warnings) == ["careful"]
    parts = dict(message_fields(data))
    assert wire_order(parts[1]) == [("b", []), ("a", ["y", "x"])]
    assert wire_order(parts[2]) == [("b", ["s"]), ("a", ["y", "x"])]
