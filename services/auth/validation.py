"""The rules of services, tokens, roles and flags, with their exact messages.

The messages quoted in the design (docs/design.md#messages) are users' search terms, so they
are constants here, spelled exactly once; tests compare against literal copies
of the design's wording, not against these constants. Each check raises one of the
shared errors (``services.common.errors``) carrying the request field at fault and a
stable ``reason``. The rules of names are every service's, so they live in
``services.common.names`` and are re-exported here for the auth service's callers.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Final

from services.auth import networks, origins
from services.common.errors import (
    PERMISSION_DENIED_MESSAGE,  # one spelling for the suite
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from services.common.names import (
    MAX_NAME_LENGTH,
    NAME_BLANK_MESSAGE,
    NAME_TAKEN_MESSAGE,
    NAME_TOO_LONG_MESSAGE,
    validate_name,
)

__all__ = [
    "ALLOWED_IPS_ON_PUBLIC_MESSAGE",
    "ALLOWED_ORIGINS_ON_PRIVATE_MESSAGE",
    "FLAG_ATTRIBUTE_SENSITIVITY",
    "FLAG_PUBLIC_SERVICES",
    "MAX_NAME_LENGTH",
    "MAX_TOKENS_PER_PARENT_SEGMENT",
    "MAX_TOKENS_PER_SERVICE",
    "NAME_BLANK_MESSAGE",
    "NAME_TAKEN_MESSAGE",
    "NAME_TOO_LONG_MESSAGE",
    "PERMISSION_DENIED_MESSAGE",
    "REAUTHENTICATION_REQUIRED_MESSAGE",
    "REAUTHENTICATION_WINDOW",
    "SERVICE_TYPE_IMMUTABLE_MESSAGE",
    "Role",
    "ServiceType",
    "check_service_type_allowed",
    "check_service_type_unchanged",
    "check_token_limits",
    "require_can_grant",
    "require_recent_authentication",
    "require_role",
    "validate_name",
    "validate_service_allowed_origins",
    "validate_token_allowed_ips",
]

MAX_TOKENS_PER_SERVICE: Final = 50
MAX_TOKENS_PER_PARENT_SEGMENT: Final = 200
REAUTHENTICATION_WINDOW: Final = timedelta(minutes=10)

FLAG_PUBLIC_SERVICES: Final = "eng-lc-realtime-personalization-m2-1"
FLAG_ATTRIBUTE_SENSITIVITY: Final = "eng-lc-realtime-personalization-m2-2"

# Wording fixed by the design.
ALLOWED_IPS_ON_PUBLIC_MESSAGE: Final = (
    "Allowed ips must not be set when the parent service is public"
)
SERVICE_TYPE_IMMUTABLE_MESSAGE: Final = "Service type cannot be changed"
REAUTHENTICATION_REQUIRED_MESSAGE: Final = "Re-authentication required"

# Wording of our own, in the same style.
ALLOWED_ORIGINS_ON_PRIVATE_MESSAGE: Final = (
    "Allowed origins must not be set when the service is private"
)
_SERVICE_TYPE_BLANK_MESSAGE: Final = "Type can't be blank (choose PUBLIC or PRIVATE)"


class ServiceType(enum.Enum):
    """Where a service's tokens may be used; chosen at creation, never changed."""

    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


@functools.total_ordering
class Role(enum.Enum):
    """A user's or key's power in its account, ordered OWNER > ADMIN > EDITOR > VIEWER.

    A plain ``Enum`` with explicit ranks rather than an ``IntEnum``, so that a
    role never compares equal to a bare number by accident.
    """

    VIEWER = "VIEWER"
    EDITOR = "EDITOR"
    ADMIN = "ADMIN"
    OWNER = "OWNER"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank


_RANKS: Final = {role: rank for rank, role in enumerate(Role)}


def require_role(role: Role | None, minimum: Role) -> None:
    """Refuse unless ``role`` is at least ``minimum``; ``None`` (no role) never is.

    Managing services, tokens, users and keys needs ``Role.ADMIN``; configuring
    segments, attributes and personalizations ``Role.EDITOR``; reading
    ``Role.VIEWER``. Call this before looking anything up, so that a refusal
    does not reveal whether the resource exists.
    """
    if role is None or role < minimum:
        raise PermissionDenied(PERMISSION_DENIED_MESSAGE, reason="ROLE_TOO_LOW")


def require_can_grant(actor: Role | None, granted: Role) -> None:
    """Refuse to create a user with a role above the creator's own.

    Without this an ADMIN could mint an OWNER and escalate; the refusal is the
    same PERMISSION_DENIED as any other.
    """
    if actor is None or actor < Role.ADMIN:
        raise PermissionDenied(PERMISSION_DENIED_MESSAGE, reason="ROLE_TOO_LOW")
    if granted > actor:
        raise PermissionDenied(PERMISSION_DENIED_MESSAGE, reason="ROLE_ABOVE_OWN")


def check_service_type_allowed(service_type: ServiceType | None, flags: Collection[str]) -> None:
    """Refuse a missing type, or a public service when the account lacks the m2-1 flag."""
    if service_type is None:
        raise InvalidArgument(
            _SERVICE_TYPE_BLANK_MESSAGE, field="type", reason="SERVICE_TYPE_BLANK"
        )
    if service_type is ServiceType.PUBLIC and FLAG_PUBLIC_SERVICES not in flags:
        raise FailedPrecondition(
            f"Public services are not enabled for this account: the feature flag "
            f"{FLAG_PUBLIC_SERVICES} is off. An operator can turn it on with "
            f"`p13n flags set --account <account id> {FLAG_PUBLIC_SERVICES}=on`.",
            reason="FEATURE_FLAG_DISABLED",
            metadata={"flag": FLAG_PUBLIC_SERVICES},
        )


def check_service_type_unchanged(current: ServiceType, requested: ServiceType | None) -> None:
    """Refuse an update that names a different type; ``None`` means not in the update."""
    if requested is not None and requested is not current:
        raise InvalidArgument(
            SERVICE_TYPE_IMMUTABLE_MESSAGE, field="type", reason="SERVICE_TYPE_IMMUTABLE"
        )


def validate_service_allowed_origins(
    service_type: ServiceType, allowed_origins: Sequence[str]
) -> list[str]:
    """Normalised allowed origins; a private service (no browser use) may have none."""
    if service_type is ServiceType.PRIVATE:
        if allowed_origins:
            raise InvalidArgument(
                ALLOWED_ORIGINS_ON_PRIVATE_MESSAGE,
                field="allowed_origins",
                reason="ALLOWED_ORIGINS_ON_PRIVATE_SERVICE",
            )
        return []
    return origins.validate_allowed_origins(allowed_origins)


def validate_token_allowed_ips(service_type: ServiceType, allowed_ips: Sequence[str]) -> list[str]:
    """Normalised allowed IPs; a public service's token (used from browsers) may have none."""
    if service_type is ServiceType.PUBLIC:
        if allowed_ips:
            raise InvalidArgument(
                ALLOWED_IPS_ON_PUBLIC_MESSAGE,
                field="allowed_ips",
                reason="ALLOWED_IPS_ON_PUBLIC_SERVICE",
            )
        return []
    return networks.validate_allowed_ips(allowed_ips)


def check_token_limits(*, tokens_in_service: int, tokens_in_parent_segment: int) -> None:
    """Refuse one more token when the service or its parent segment is full.

    The counts are of existing tokens, before the new one. When both limits are
    hit, the service's is named: deleting one of its tokens frees both.
    """
    if tokens_in_service >= MAX_TOKENS_PER_SERVICE:
        raise ResourceExhausted(
            f"Token limit reached: a service can have at most {MAX_TOKENS_PER_SERVICE} "
            "tokens. Delete a token of this service that is no longer used, then try again.",
            reason="TOKEN_LIMIT_PER_SERVICE",
            metadata={"limit": str(MAX_TOKENS_PER_SERVICE)},
        )
    if tokens_in_parent_segment >= MAX_TOKENS_PER_PARENT_SEGMENT:
        raise ResourceExhausted(
            f"Token limit reached: a parent segment can have at most "
            f"{MAX_TOKENS_PER_PARENT_SEGMENT} tokens across all its services. Delete a token "
            "of any service of this parent segment that is no longer used, then try again.",
            reason="TOKEN_LIMIT_PER_PARENT_SEGMENT",
            metadata={"limit": str(MAX_TOKENS_PER_PARENT_SEGMENT)},
        )


def require_recent_authentication(authenticated_at: datetime | None, now: datetime) -> None:
    """Refuse unless the session proved its password within the last 10 minutes.

    ``None`` (an API key, or a session never password-authenticated) is refused.
    So is a time in the future: the clock stepped back, and asking for the
    password once more is cheaper than trusting it. Both times must be aware.
    """
    if now.tzinfo is None or (authenticated_at is not None and authenticated_at.tzinfo is None):
        # A naive time would be compared as if in whatever zone produced it.
        raise ValueError("authentication times must be timezone-aware")
    if authenticated_at is not None:
        age = now - authenticated_at
        if timedelta(0) <= age <= REAUTHENTICATION_WINDOW:
            return
    raise Unauthenticated(REAUTHENTICATION_REQUIRED_MESSAGE, reason="REAUTHENTICATION_REQUIRED")
