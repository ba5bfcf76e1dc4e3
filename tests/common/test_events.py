"""Events decoded from a Struct: integers a double holds stay integers, the rest is refused
by its place (services/common/events.py), as a native gRPC client sends them."""

from __future__ import annotations

import pytest

from services.common import events
from services.common.errors import InvalidArgument


@pytest.mark.parametrize(
    ("event", "place"),
    [
        pytest.param({"price": 2.0**64}, "price", id="2**64"),
        pytest.param({"n": -(2.0**53) - 2}, "n", id="below-minus-2**53"),
        pytest.param({"a": {"b": [1, 1e300]}}, "a.b[1]", id="nested"),
    ],
)
def test_an_integer_beyond_2_53_is_refused_by_its_place(
    event: dict[str, object], place: str
) -> None:
    with pytest.raises(events.EventError) as raised:
        events.decode(events.to_struct(event))
    assert str(raised.value) == (
        f"{place} is an integer beyond ±2^53, which a double cannot hold exactly; "
        "send it as a string"
    )


def test_the_request_field_is_named_before_the_place() -> None:
    with pytest.raises(InvalidArgument) as raised:
        events.checked(events.to_struct({"td_client_id": "a", "n": 2.0**60}), "records[2]")
    assert raised.value.message.startswith("records[2]: n is an integer beyond ±2^53")
    assert raised.value.field == "records[2]"


@pytest.mark.parametrize(
    ("number", "decoded"),
    [
        pytest.param(2.0**53, 2**53, id="2**53"),
        pytest.param(-(2.0**53), -(2**53), id="minus-2**53"),
        pytest.param(28700.0, 28700, id="integral"),
        pytest.param(0.1, 0.1, id="fraction"),
    ],
)
def test_numbers_a_double_holds_exactly_are_kept(number: float, decoded: object) -> None:
    assert events.decode(events.to_struct({"n": number})) == {"n": decoded}
