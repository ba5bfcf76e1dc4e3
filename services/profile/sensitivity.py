"""Whether a configuration change lowers a sensitivity, and who may make one that does.

Lowering a sensitivity publishes data: a value the public path withheld is sent to every
browser about a second later (the data path reloads its configuration). So it needs an
ADMIN (an EDITOR may raise a sensitivity or change anything else), and the audit log calls
it out. UNSPECIFIED counts as sensitive, as the public path treats it (fail closed): from
SENSITIVE or UNSPECIFIED to NON_SENSITIVE is a lowering. Turning off a stitching key's
``verified`` is the same kind of change (any browser may then claim the key's values and see
their profiles), so it follows the same rule. Pure: no grpc, no database.
"""

from __future__ import annotations

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


def require_admin_to_lower(role: int, lowered: list[str]) -> None:
    """Raises PermissionDenied when ``lowered`` is not empty and ``role`` is below ADMIN."""
    if lowered and role < identity_pb2.ADMIN:
        message = VERIFICATION_OFF_NEEDS_ADMIN if lowered == ["verified"] else LOWERING_NEEDS_ADMIN
        raise PermissionDenied(message, field=lowered[0], reason="SENSITIVITY_LOWERING_NEEDS_ADMIN")
