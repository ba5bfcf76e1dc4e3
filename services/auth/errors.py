"""Domain errors of the auth service.

They specialise the suite's shared errors (``services.common.errors``), so the one
server interceptor maps them to their gRPC status with a ``google.rpc.ErrorInfo``
whose reason is ``error.reason``, and an ``except`` on a shared class catches the
auth one too. The status code each class stands for is inherited from there::

    P13nError                                (services.common.errors)
    └── AuthError                            (never raised itself)
        ├── InvalidArgument      INVALID_ARGUMENT     the request is wrong; fix ``field``
        ├── FailedPrecondition   FAILED_PRECONDITION  the account is not set up for it
        ├── Unauthenticated      UNAUTHENTICATED      who you are is unknown or stale
        ├── PermissionDenied     PERMISSION_DENIED    who you are may not do this
        ├── NotFound             NOT_FOUND            no such resource
        ├── AlreadyExists        ALREADY_EXISTS       the resource exists already
        └── ResourceExhausted    RESOURCE_EXHAUSTED   a count or rate limit was reached

Each leaf also subclasses the shared class of the same name.

Every message is shown to the caller as is, so it must be actionable and must
never contain a secret. A server-side fault (a corrupt stored secret, a wrong
key) is deliberately *not* an ``AuthError``: it must surface as INTERNAL, never
as the client's mistake.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.common import errors as common

__all__ = [
    "AlreadyExists",
    "AuthError",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
]


class AuthError(common.P13nError):
    """A refusal the caller can act on.

    ``reason`` is a stable UPPER_SNAKE_CASE identifier for ``ErrorInfo`` so that
    clients branch on it instead of parsing ``message``; ``field`` is the request
    field at fault (AIP-193 field violation path), empty when there is none;
    ``metadata`` holds non-secret details such as the limit that was hit.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str = "",
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, field=field)
        self.metadata: Mapping[str, str] = dict(metadata or {})

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.message!r}, field={self.field!r}, reason={self.reason!r})"


class InvalidArgument(AuthError, common.InvalidArgument):
    """The request itself is wrong; ``field`` says which part to fix."""

    def __init__(
        self,
        field: str,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        # The field comes first and is required: an invalid argument without the
        # argument's name is not actionable.
        super().__init__(message, field=field, reason=reason, metadata=metadata)


class FailedPrecondition(AuthError, common.FailedPrecondition):
    """The request is well formed but the account is not in a state to allow it."""


class Unauthenticated(AuthError, common.Unauthenticated):
    """The credentials are missing, malformed, unknown, revoked or too old."""


class PermissionDenied(AuthError, common.PermissionDenied):
    """The caller is known but may not perform this action."""

    def __init__(
        self,
        message: str = common.PERMISSION_DENIED_MESSAGE,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)


class NotFound(AuthError, common.NotFound):
    """The named resource does not exist (checked only after permission)."""


class AlreadyExists(AuthError, common.AlreadyExists):
    """The resource the caller tried to create exists already."""


class ResourceExhausted(AuthError, common.ResourceExhausted):
    """A count limit (tokens per service) or a rate limit was reached."""
