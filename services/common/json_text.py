"""JSON text on the hot path: orjson, with the standard library's answer where orjson refuses.

Every Track writes a profile's state as JSON and reads the states it touches; every
answer is printed as JSON. orjson (a compiled extension, a widely used fast JSON library
for Python) encodes these about ten times and decodes them about three times faster than
the standard library's C code (`docs/performance.md`, "JSON on the hot path").

Its text is the standard library's compact text with UTF-8 as is, except how some floats are
spelled (``1e-05`` is ``0.00001``, ``1.5e-07`` is ``1.5e-7``): every JSON reader reads the
same number. What orjson refuses to encode (integers beyond 64 bits, keys that are not
strings, strings with lone surrogates) is encoded by ``json`` as before, so those values
behave as they always did. orjson writes a non-finite float as null (``json`` wrote
``NaN``, which is not JSON); none is stored or answered either way: events refuse them
(``events._number``) and rendering makes them null (``rendering.to_json``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """``value`` as compact JSON text, UTF-8 as is (``ensure_ascii=False``)."""
    return dumps_bytes(value).decode()


def dumps_bytes(value: Any) -> bytes:
    """``dumps``, encoded as UTF-8."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def loads(text: str | bytes) -> Any:
    """The value of JSON text that p13n wrote, whose integers are within ±2^53 (orjson reads
    one beyond 64 bits as a float); text orjson refuses (``NaN``, which ``json.dumps``
    wrote before) is read by ``json``, as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
