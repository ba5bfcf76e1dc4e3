"""Whether a configuration change lowers a sensitivity, and who may make one that does.

Lowering a sensitivity publishes data: a value the public path withheld is sent to every
browser about a second later (the data path reloads its configuration). So it needs an
ADMIN (an EDITOR may raise a sensitivity or change anything else), and the audit log calls
it out. UNSPECIFIED counts as sensitive, as the public path treats it (fail closed): from
SENSITIVE or UNSPECIFIED to NON_SENSITIVE is a lowering. Turning off a stitching key's
``verified`` is the same kind of change (any browser may then claim the key's values and see
their profiles), so it follows the same rule. Pure: no grpc, no database.

Values outlive their configuration: imported values and profile state are kept under the
attribute's (and aggregation's) name, identities under the stitching key's name, and
neither goes when the attribute or key is deleted or renamed. So comparing one change's
before and after is not enough: deleting a SENSITIVE attribute and creating a
NON_SENSITIVE one of the same name (or renaming it away first) would publish the same
values. The configuration store therefore remembers every name that has held withheld
values (``withheld_names``, kept forever per parent segment), and a change that newly shows
a remembered name (``lowered``) is a lowering too.
"""

from __future__ import annotations

from collections.abc import Collection

from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common.errors import PermissionDenied

LOWERING_NEEDS_ADMIN = (
    "Lowering a sensitivity needs the ADMIN role: it publishes values the public path "
    "withholds. Ask an admin to make this change."
)
VERIFICATION_OFF_NEEDS_ADMIN = (
    "Turning off a stitching key's verification needs the ADMIN role: any browser could then "
    "claim its values and see their profiles. Ask an admin to make this change."
)


# A name under which values are stored: (attribute or key name, aggregation name), the
# second "" for a whole attribute or a key.
WithheldName = tuple[str, str]
# What a configuration change writes (an event definition protects nothing).
Config = pb.EventDefinition | pb.Attribute | pb.Segment | pb.StitchingKey


def _withheld(sensitivity: int) -> bool:
    return sensitivity != pb.NON_SENSITIVE


def _lowered(before: int, after: int) -> bool:
    return _withheld(before) and not _withheld(after)


def lowered_fields(
    before: pb.Attribute | pb.Segment, after: pb.Attribute | pb.Segment
) -> list[str]:
    """The fields whose sensitivity the change from ``before`` to ``after`` lowers.

    A list attribute's aggregations are matched by name; a new aggregation lowers nothing
    (no value of it was withheld before).
    """
    found = ["sensitivity"] if _lowered(before.sensitivity, after.sensitivity) else []
    if isinstance(before, pb.Attribute) and isinstance(after, pb.Attribute):
        old = {a.name: a.sensitivity for a in before.list.aggregations}
        found.extend(
            f"list.aggregations[{a.name}].sensitivity"
            for a in after.list.aggregations
            if a.name in old and _lowered(old[a.name], a.sensitivity)
        )
    return found


def verification_dropped(before: pb.StitchingKey, after: pb.StitchingKey) -> list[str]:
    """``["verified"]`` when the change turns the key's verification off."""
    return ["verified"] if before.verified and not after.verified else []


def withheld_names(child: pb.Attribute | pb.StitchingKey) -> set[WithheldName]:
    """The names under which ``child``'s values are withheld on the public path: what the
    store remembers when it writes or deletes ``child``. A list's own sensitivity is not
    used (its aggregations have theirs)."""
    if isinstance(child, pb.StitchingKey):
        return {(child.name, "")} if child.verified else set()
    if child.type == pb.LIST:
        return {(child.name, a.name) for a in child.list.aggregations if _withheld(a.sensitivity)}
    return {(child.name, "")} if _withheld(child.sensitivity) else set()


def _shown(child: pb.Attribute | pb.StitchingKey) -> list[WithheldName]:
    """The names under which the public path shows ``child``'s values, in config order."""
    if isinstance(child, pb.StitchingKey):
        return [] if child.verified else [(child.name, "")]
    if child.type == pb.LIST:
        return [
            (child.name, a.name) for a in child.list.aggregations if not _withheld(a.sensitivity)
        ]
    return [] if _withheld(child.sensitivity) else [(child.name, "")]


def _field(name: WithheldName, child: pb.Attribute | pb.StitchingKey) -> str:
    if isinstance(child, pb.StitchingKey):
        return "verified"
    return f"list.aggregations[{name[1]}].sensitivity" if name[1] else "sensitivity"


def _newly_shown(
    before: Config | None,
    after: pb.Attribute | pb.StitchingKey,
    remembered: Collection[WithheldName],
) -> list[str]:
    """The fields of ``after`` that show values under a remembered name that were not shown
    just before. What a type change shows comes from elsewhere (a SINGLE's state, an
    IMPORTED's imports), so after one nothing counts as shown before."""
    shown_before: set[WithheldName] = set()
    if isinstance(before, pb.StitchingKey) or (
        isinstance(before, pb.Attribute)
        and isinstance(after, pb.Attribute)
        and before.type == after.type
    ):
        shown_before = set(_shown(before))
    return [
        _field(name, after)
        for name in _shown(after)
        if name in remembered and name not in shown_before
    ]


def lowered(
    before: Config | None, after: Config, remembered: Collection[WithheldName] = ()
) -> list[str]:
    """The protections a create (``before`` None) or an update lowers.

    Its own sensitivities and verification, before against after; and any name the store
    remembers as having held withheld values (``remembered``, from ``withheld_names``) that
    the change newly shows: a NON_SENSITIVE attribute or aggregation, or an unverified key,
    created under it or renamed to it. Segments' members are kept by the segment's id and
    go with it, so only their before and after count.
    """
    if isinstance(before, pb.Segment) and isinstance(after, pb.Segment):
        return lowered_fields(before, after)
    if not isinstance(after, (pb.Attribute, pb.StitchingKey)):
        return []
    found: list[str] = []
    if isinstance(before, pb.StitchingKey) and isinstance(after, pb.StitchingKey):
        found = verification_dropped(before, after)
    elif isinstance(before, pb.Attribute) and isinstance(after, pb.Attribute):
        found = lowered_fields(before, after)
    found.extend(f for f in _newly_shown(before, after, remembered) if f not in found)
    return found


def require_admin_to_lower(role: int, lowered: list[str]) -> None:
    """Raises PermissionDenied when ``lowered`` is not empty and ``role`` is below ADMIN."""
    if lowered and role < identity_pb2.ADMIN:
        message = VERIFICATION_OFF_NEEDS_ADMIN if lowered == ["verified"] else LOWERING_NEEDS_ADMIN
        raise PermissionDenied(message, field=lowered[0], reason="SENSITIVITY_LOWERING_NEEDS_ADMIN")
