"""The encoded answers, in the order docs/design.md#public-path gives them: sections, and fields in them.

Only JSON values occur (``rendering.to_json`` has made integral floats ints and non-finite
floats null).

The gateway's paths answer ``google.api.HttpBody``: the JSON ``{"offers": {...}}`` as text,
which keeps every order natively and which the gateway's transcoder sends as the HTTP body
(``json_body``). It is the JSON the transcoder printed when these answers were protobuf
messages, byte for byte in every string: besides what JSON requires, it escapes ``<``, ``>``
and the invisible and line-separating characters that protobuf's JSON printer escapes, so
a page that embeds an answer in HTML or a script is no worse off. Numbers print as orjson
prints them (``services/common/json_text.py``; shortest round-trip: ``1000000000000000``
where the printer wrote ``1e+15``, ``1e-7`` for ``1e-07``): the same values.

gRPC clients of PrivatePersonalize (through the gateway) get the typed ``PersonalizeResponse``, whose
``offers`` is a repeated ``SectionOffer`` in section order: the contract itself says the
order. The preview API's two answers are ``PreviewOffers`` maps instead, so that their JSON
through the gateway is exactly the paths' ``{"offers": {...}}``; there the order is kept on
the wire, since the gateway's transcoder prints a JSON object's members in the order their
entries arrive (verified with Envoy 1.40) while the protobuf runtime serializes maps in hash
order. Both are encoded here, entry by entry, in order: a ``SectionOffer`` has the field
numbers of a ``map<string, Offer>`` entry (name = 1, offer = 2), so one encoding is both
messages, and a client built when the typed answer was a map reads the same bytes. Each
section's attributes are a ``Struct`` (a map too), encoded in order alike. Numbers travel
as doubles, as ``google.protobuf.Value`` carries them.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping

from p13n.offers.v1 import personalization_config_service_pb2 as config_api

from services.common import json_text

Offers = Mapping[str, Mapping[str, object]]
"""The engine's answer: section name -> ``{}`` (redacted) or ``{"attributes": {...}}``."""

# protobuf's JSON printer (json/internal/writer.cc, MustEscape) escapes these beyond what
# JSON requires; json_text already escapes the rest (quote, backslash, controls < 0x20)
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
    data = _printer_escaped(json_text.dumps_bytes({"offers": offers}))
    return _JSON_BODY + _varint(len(data)) + data


def _printer_escaped(data: bytes) -> bytes:
    # Scanning with the regex costs ~5 ns a character; most answers are ASCII, where only
    # three of the characters can occur, and bytes' own searches are far faster.
    if data.isascii() and b"<" not in data and b">" not in data and b"\x7f" not in data:
        return data
    return _PRINTER_ESCAPES.sub(_u_escape, data.decode()).encode()


def _u_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def personalize_response(offers: Offers) -> bytes:
    """A ``PersonalizeResponse`` (or ``PreviewOffers``) with the sections of ``offers``, in order."""
    # SectionOffer (and a map entry): name = 1, offer = 2; Offer: attributes = 1 (absent
    # when redacted).
    return b"".join(
        [_field(_F1, _key(name) + _field(_F2, _offer(section))) for name, section in offers.items()]
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
        _field(_F1, personalize_response(public))
        + _field(_F2, personalize_response(private))
        + rest.SerializeToString()
    )


# Each answer encodes hundreds of small fields, so the tags (all of them field numbers
# below 16 of wire type 0, 1 or 2, one byte each) are constants and a length is one
# table lookup or one bytes() call; no bytearray is built per call.
_F1, _F2 = b"\x0a", b"\x12"  # length-delimited fields 1 and 2
_NULL = b"\x08\x00"  # Value.null_value = 1 (NULL_VALUE)
_NUMBER = b"\x11"  # Value.number_value = 2, a little-endian double
_STRING = b"\x1a"  # Value.string_value = 3
_TRUE, _FALSE = b"\x20\x01", b"\x20\x00"  # Value.bool_value = 4
_STRUCT = b"\x2a"  # Value.struct_value = 5
_LIST = b"\x32"  # Value.list_value = 6; ListValue.values = 1
_DOUBLE = struct.Struct("<d").pack
_ONE_BYTE = tuple(bytes((n,)) for n in range(0x80))


def _offer(section: Mapping[str, object]) -> bytes:
    attributes = section.get("attributes")
    if attributes is None:
        return b""
    if not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be an object, got {type(attributes).__name__}")
    return _field(_F1, _struct(attributes))


def _struct(fields: Mapping[str, object]) -> bytes:
    # Struct.fields: map<string, Value> = 1, each entry key = 1, value = 2.
    return b"".join(
        [_field(_F1, _key(key) + _field(_F2, _value(value))) for key, value in fields.items()]
    )


def _key(key: object) -> bytes:
    data = str(key).encode()
    return _F1 + _varint(len(data)) + data


def _value(value: object) -> bytes:
    # Checks against concrete types first: one against the Mapping ABC costs several times
    # more, and most values are strings and numbers.
    if isinstance(value, str):
        data = value.encode()
        return _STRING + _varint(len(data)) + data
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, (int, float)):  # a tuple: faster to check than int | float
        return _NUMBER + _DOUBLE(float(value))
    if value is None:
        return _NULL
    if isinstance(value, (list, tuple)):
        return _field(_LIST, b"".join([_field(_F1, _value(item)) for item in value]))
    if isinstance(value, Mapping):
        return _field(_STRUCT, _struct(value))
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _ONE_BYTE[n]
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
