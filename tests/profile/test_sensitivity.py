"""Which changes lower a sensitivity, and that only an ADMIN (or OWNER) may make them."""

from __future__ import annotations

import pytest
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common.errors import PermissionDenied
from services.profile import sensitivity

S, N, U = pb.SENSITIVE, pb.NON_SENSITIVE, pb.SENSITIVITY_UNSPECIFIED


def _list(*aggregations: tuple[str, int]) -> pb.Attribute:
    attribute = pb.Attribute(name="bought", type=pb.LIST)
    for name, level in aggregations:
        attribute.list.aggregations.add(name=name, field=name, sensitivity=level)
    return attribute


@pytest.mark.parametrize(
    ("before", "after", "lowered"),
    [
        pytest.param(
            pb.Attribute(sensitivity=S),
            pb.Attribute(sensitivity=N),
            ["sensitivity"],
            id="attr-s-to-n",
        ),
        pytest.param(
            pb.Attribute(sensitivity=U),
            pb.Attribute(sensitivity=N),
            ["sensitivity"],
            id="attr-unspecified-to-n",
        ),
        pytest.param(
            pb.Attribute(sensitivity=N), pb.Attribute(sensitivity=S), [], id="attr-raised"
        ),
        pytest.param(
            pb.Attribute(sensitivity=S), pb.Attribute(sensitivity=S), [], id="attr-unchanged"
        ),
        pytest.param(
            pb.Segment(sensitivity=S),
            pb.Segment(sensitivity=N),
            ["sensitivity"],
            id="segment-s-to-n",
        ),
        pytest.param(
            pb.Segment(sensitivity=N), pb.Segment(sensitivity=N), [], id="segment-unchanged"
        ),
        pytest.param(
            _list(("p", S), ("q", S)),
            _list(("p", S), ("q", N)),
            ["list.aggregations[q].sensitivity"],
            id="aggregation-lowered",
        ),
        pytest.param(_list(("p", S)), _list(("p", S), ("new", N)), [], id="new-aggregation"),
        pytest.param(_list(("p", N)), _list(("p", S)), [], id="aggregation-raised"),
        pytest.param(
            pb.Attribute(type=pb.SINGLE, sensitivity=S),
            pb.Attribute(type=pb.COUNTER, sensitivity=N),
            ["sensitivity"],
            id="single-to-counter",
        ),
    ],
)
def test_lowered_fields(
    before: pb.Attribute | pb.Segment, after: pb.Attribute | pb.Segment, lowered: list[str]
) -> None:
    assert sensitivity.lowered_fields(before, after) == lowered


@pytest.mark.parametrize("role", [identity_pb2.VIEWER, identity_pb2.EDITOR])
def test_below_admin_a_lowering_is_refused(role: int) -> None:
    with pytest.raises(PermissionDenied) as refused:
        sensitivity.require_admin_to_lower(role, ["sensitivity"])
    assert str(refused.value.message) == sensitivity.LOWERING_NEEDS_ADMIN
    assert refused.value.reason == "SENSITIVITY_LOWERING_NEEDS_ADMIN"
    sensitivity.require_admin_to_lower(role, [])  # nothing lowered: any editor may


@pytest.mark.parametrize("role", [identity_pb2.ADMIN, identity_pb2.OWNER])
def test_admins_and_owners_may_lower(role: int) -> None:
    sensitivity.require_admin_to_lower(role, ["sensitivity"])
