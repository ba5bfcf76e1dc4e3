"""Between the profile service's domain values and its API messages."""

from __future__ import annotations

from collections.abc import Mapping

from p13n.profile.v1 import profile_pb2

from services.common import events
from services.common.convert import timestamp
from services.profile.profile_store import ProfileView
from services.profile.stitching import Identity


def identity_message(identity: Identity) -> profile_pb2.Identity:
    return profile_pb2.Identity(
        key=identity.key, value=identity.value, first_seen=timestamp(identity.first_seen)
    )


def profile_message(view: ProfileView, values: Mapping[str, object]) -> profile_pb2.Profile:
    """The profile with its current ``values``, in the configuration's attribute order."""
    return profile_pb2.Profile(
        canonical_id=view.canonical_id or "",
        identities=[
            identity_message(i)
            for i in sorted(view.identities, key=lambda i: (i.first_seen, i.key, i.value))
        ],
        attributes=[
            profile_pb2.AttributeValue(
                name=name, value=events.to_value(values[name]), sensitivity_summary=summary
            )
            for name, summary in view.config.summaries.items()
            if name in values
        ],
        segments=[
            profile_pb2.SegmentMembership(name=name, sensitivity=sensitivity)  # type: ignore[arg-type]
            for name, sensitivity in view.batch.segments
        ],
    )
