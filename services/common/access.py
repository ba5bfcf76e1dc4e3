"""Who may call which RPC, decided once per call before any handler runs.

Each service declares a rule per method. Because the check runs in the interceptor, a caller
without permission is refused before the handler can reveal whether a resource exists.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeAlias

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from p13n.auth.v1 import identity_pb2

from services.common import identity as identities
from services.common.errors import PermissionDenied, Unauthenticated

Identity: TypeAlias = identity_pb2.Identity


class Access(enum.Enum):
    """The rule of one RPC."""

    OPEN = "open"  # anyone: health, reflection, signing in
    INTERNAL = "internal"  # another p13n service, with a signed identity
    VIEWER = "viewer"  # the admin API, by role
    EDITOR = "editor"
    ADMIN = "admin"
    DATA = "data"  # the data plane: a token's or API key's identity, from the gateway


_MIN_ROLE = {
    Access.VIEWER: identity_pb2.VIEWER,
    Access.EDITOR: identity_pb2.EDITOR,
    Access.ADMIN: identity_pb2.ADMIN,
}

# Health and reflection: open to any caller the transport let in (for callers.py too).
ALWAYS_OPEN = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def rule_for(method: str, rules: Mapping[str, Access]) -> Access:
    """The rule of a fully qualified method; unknown methods are internal (closed)."""
    if method.startswith(ALWAYS_OPEN):
        return Access.OPEN
    return rules.get(method, Access.INTERNAL)


def every_method(service: ServiceDescriptor, rule: Access) -> dict[str, Access]:
    """One rule for every method of a service, read from its descriptor.

    An ``Internal*`` service is INTERNAL as a whole: a method added to its proto gets the
    rule without anyone remembering to list it.
    """
    return {f"/{service.full_name}/{method.name}": rule for method in service.methods}


def authorize(rule: Access, metadata: Mapping[str, str], key: bytes) -> Identity | None:
    """Returns the caller's identity, or raises Unauthenticated / PermissionDenied."""
    if rule is Access.OPEN:
        header = metadata.get(identities.IDENTITY_HEADER)
        return identities.verify(header, key) if header else None
    header = metadata.get(identities.IDENTITY_HEADER)
    if not header:
        raise Unauthenticated(
            "Credentials are required: call through the gateway with a token or API key",
            reason="NO_CREDENTIALS",
        )
    identity = identities.verify(header, key)
    if rule is Access.INTERNAL:
        if not identity.caller_service:
            raise PermissionDenied(reason="INTERNAL_ONLY")
    elif rule is Access.DATA:
        if not identity.token_type and not identity.api_key_type:
            raise PermissionDenied(reason="DATA_PLANE_ONLY")
    elif identity.role < _MIN_ROLE[rule]:
        raise PermissionDenied(reason="ROLE_TOO_LOW")
    return identity


def metadata_dict(context: grpc.aio.ServicerContext) -> dict[str, str]:
    """The call's invocation metadata as a dict of text values (binary headers skipped)."""
    result: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            result[key] = value
    return result
