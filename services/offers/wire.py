"""The encoded answers, in the order DESIGN §2 gives them: sections, and fields in them.

Only JSON values occur (``rendering.to_json`` has made integral floats ints and non-finite
floats null).

The gateway's paths answer ``google.api.HttpBody``: the JSON ``{"offers": {...}}`` as text,
which keeps every order natively and which the gateway's transcoder sends as the HTTP body
(``json_body``). It is the JSON the transcoder printed when these answers were protobuf
messages, byte for byte in every string: besides what JSON requires, it escapes ``<``, ``>``
and the invisible and line-separating characters that protobuf's JSON printer escapes, so
a page that embeds an answer in HTML or a script is no worse off. Numbers print as Python
prints them (shortest round-trip; ``1000000000000000`` where the printer wrote ``1e+15``):
the same values.

Direct gRPC callers of PrivatePersonalize and the preview API get typed messages instead,
whose order matters too: sections and payload fields travel as protobuf maps (``map<string,
Offer>``, and the ``Struct`` of each section's attributes), which the protobuf runtime
serializes in hash order, while the gateway's transcoder prints a JSON object's members in
the order their entries arrive on the wire (verified with Envoy 1.40). So those are encoded
here, entry by entry, in order (``personalize_response``); any protobuf parser reads the
bytes as the ordinary message: a map is just repeated entries. Numbers travel as doubles,
as ``google.protobuf.Value`` carries them.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping

from p13n.offers.v1 import personalization_config_service_pb2 as config_api

Offers = Mapping[str, Mapping[str, object]]
"""The engine's answer: section name -> ``{}`` (redacted) or ``{"attributes": {...}}``."""

_VARINT, _I64, _LEN = 0, 1, 2

# protobuf's JSON printer (json/internal/writer.cc, MustEscape) escapes these beyond what
# JSON requires; json.dumps already escapes the rest (quote, backslash, controls < 0x20)
# alike. They occur only inside strings, so the finished text can be escaped as a whole.
_PRINTER_ESCAPES = re.compile(
    "[<>\x7f-\x9f\xad\u0600-\u0603\u06dd\u070f\u17b4\u17b5\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# HttpBody: content_type = 1, data = 2.
_JSON_BODY = b"\x0a\x10application/json\x12"


def json_body(offers: Offers) -> bytes:
    """A ``google.api.HttpBody`` holding ``{"offers": {...}}`` as JSON, in order."""
    text = json.dumps(
        {"offers": offers}, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    if _PRINTER_ESCAPES.search(text) is not None:
        text = _PRINTER_ESCAPES.sub(_u_escape, text)
    data = text.encode()
    return _JSON_BODY + _varint(len(data)) + data


def _u_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


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
