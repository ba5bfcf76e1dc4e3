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


# -- names that held withheld values (deleted, renamed, re-created) ------------------------


def _attribute(name: str, level: int, kind: int = pb.IMPORTED) -> pb.Attribute:
    return pb.Attribute(name=name, type=kind, sensitivity=level)  # type: ignore[arg-type]


def _key(name: str, verified: bool) -> pb.StitchingKey:
    return pb.StitchingKey(name=name, verified=verified)


@pytest.mark.parametrize(
    ("child", "names"),
    [
        pytest.param(_attribute("note", S), {("note", "")}, id="sensitive"),
        pytest.param(_attribute("note", U), {("note", "")}, id="unspecified"),
        pytest.param(_attribute("note", N), set(), id="non-sensitive"),
        pytest.param(_list(("p", S), ("q", N)), {("bought", "p")}, id="list-by-aggregation"),
        pytest.param(_key("member_id", True), {("member_id", "")}, id="verified-key"),
        pytest.param(_key("member_id", False), set(), id="unverified-key"),
    ],
)
def test_withheld_names(
    child: pb.Attribute | pb.StitchingKey, names: set[sensitivity.WithheldName]
) -> None:
    assert sensitivity.withheld_names(child) == names


NOTE = {("note", "")}


@pytest.mark.parametrize(
    ("before", "after", "remembered", "lowered"),
    [
        pytest.param(None, _attribute("note", N), NOTE, ["sensitivity"], id="recreated-shown"),
        pytest.param(None, _attribute("note", S), NOTE, [], id="recreated-withheld"),
        pytest.param(None, _attribute("other", N), NOTE, [], id="another-name"),
        pytest.param(None, _attribute("note", N), set(), [], id="never-withheld"),
        pytest.param(
            None,
            _attribute("note", N, pb.COUNTER),
            NOTE,
            ["sensitivity"],
            id="recreated-as-counter",
        ),
        pytest.param(
            _attribute("harmless", N),
            _attribute("note", N),
            NOTE,
            ["sensitivity"],
            id="renamed-onto",
        ),
        pytest.param(
            _attribute("note", N), _attribute("note", N), NOTE, [], id="already-shown-edited"
        ),
        pytest.param(
            _attribute("note", N, pb.SINGLE),
            _attribute("note", N, pb.IMPORTED),
            NOTE,
            ["sensitivity"],
            id="type-change-shows-other-values",
        ),
        pytest.param(
            _attribute("note", S), _attribute("note", N), set(), ["sensitivity"], id="plain"
        ),
        pytest.param(
            None,
            _list(("p", N), ("q", N)),
            {("bought", "p")},
            ["list.aggregations[p].sensitivity"],
            id="aggregation-recreated",
        ),
        pytest.param(
            _list(("q", N)),
            _list(("q", N), ("p", N)),
            {("bought", "p")},
            ["list.aggregations[p].sensitivity"],
            id="aggregation-removed-then-added",
        ),
        pytest.param(
            None, _list(("p", N)), NOTE | {("other", "p")}, [], id="aggregation-of-another"
        ),
        pytest.param(
            None, _key("member_id", False), {("member_id", "")}, ["verified"], id="key-recreated"
        ),
        pytest.param(None, _key("member_id", True), {("member_id", "")}, [], id="key-verified"),
        pytest.param(
            _key("member_id", False),
            _key("member_id", False),
            {("member_id", "")},
            [],
            id="key-already-unverified-edited",
        ),
        pytest.param(
            _key("member_id", True), _key("member_id", False), set(), ["verified"], id="key-off"
        ),
        pytest.param(None, pb.Segment(name="note", sensitivity=N), NOTE, [], id="segment-new"),
    ],
)
def test_lowered_counts_remembered_names(
    before: sensitivity.Config | None,
    after: sensitivity.Config,
    remembered: set[sensitivity.WithheldName],
    lowered: list[str],
) -> None:
    assert sensitivity.lowered(before, after, remembered) == lowered


def test_a_recreated_key_gets_the_verification_message() -> None:
    found = sensitivity.lowered(None, _key("member_id", False), {("member_id", "")})
    with pytest.raises(PermissionDenied) as refused:
        sensitivity.require_admin_to_lower(identity_pb2.EDITOR, found)
    assert str(refused.value.message) == sensitivity.VERIFICATION_OFF_NEEDS_ADMIN
