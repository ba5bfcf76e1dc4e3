"""The protobuf wire form of answers whose order matters: sections, and fields in them.

DESIGN §2 answers ``{"offers": {...}}`` in section order, and a payload's fields are
ordered. Both travel as protobuf maps (``map<string, Offer>``, and the ``Struct`` of each
section's attributes), which the protobuf runtime serializes in hash order. The gateway's
transcoder prints a JSON object's members in the order their entries arrive on the wire
(verified with Envoy 1.40), so the answer is encoded here, entry by entry, in order.
Any protobuf parser reads the bytes as the ordinary message: a map is just repeated entries.

Only JSON values occur (``rendering.to_json`` has made integral floats ints and non-finite
floats null); numbers travel as doubles, as ``google.protobuf.Value`` carries them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

from p13n.offers.v1 import personalization_config_service_pb2 as config_api

Offers = Mapping[str, Mapping[str, object]]
"""The engine's answer: section name -> ``{}`` (redacted) or ``{"attributes": {...}}``."""

_VARINT, _I64, _LEN = 0, 1, 2


def personalize_response(offers: Offers) -> bytes:
    """A ``PersonalizeResponse`` whose ``offers`` keep the order of ``offers``."""
    # OffersEntry: key = 1, value = 2; Offer: attributes = 1 (absent when redacted).
    return b"".join(
        _len(1, _string(1, name) + _len(2, _offer(section))) for name, section in offers.items()
    )


def preview_response(
    public: Offers,
    private: Offers,
    sections: Iterable[config_api.SectionPreview],
    warnings: Iterable[str],
) -> bytes:
    """A ``PreviewPersonalizationResponse`` whose two answers keep their order."""
    rest = config_api.PreviewPersonalizationResponse(sections=sections, warnings=warnings)
    return (
        _len(1, personalize_response(public))
        + _len(2, personalize_response(private))
        + rest.SerializeToString()
    )


def _offer(section: Mapping[str, object]) -> bytes:
    attributes = section.get("attributes")
    if attributes is None:
        return b""
    if not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be an object, got {type(attributes).__name__}")
    return _len(1, _struct(attributes))


def _struct(fields: Mapping[str, object]) -> bytes:
    # Struct.fields: map<string, Value> = 1.
    return b"".join(
        _len(1, _string(1, str(key)) + _len(2, _value(value))) for key, value in fields.items()
    )


def _value(value: object) -> bytes:
    # google.protobuf.Value: null_value = 1, number_value = 2, string_value = 3,
    # bool_value = 4, struct_value = 5, list_value = 6.
    if value is None:
        return _tag(1, _VARINT) + b"\x00"
    if isinstance(value, bool):
        return _tag(4, _VARINT) + (b"\x01" if value else b"\x00")
    if isinstance(value, int | float):
        return _tag(2, _I64) + struct.pack("<d", float(value))
    if isinstance(value, str):
        return _string(3, value)
    if isinstance(value, Mapping):
        return _len(5, _struct(value))
    if isinstance(value, list | tuple):
        # ListValue.values: repeated Value = 1.
        return _len(6, b"".join(_len(1, _value(item)) for item in value))
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _string(number: int, text: str) -> bytes:
    return _len(number, text.encode("utf-8"))


def _len(number: int, payload: bytes) -> bytes:
    return _tag(number, _LEN) + _varint(len(payload)) + payload


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
