"""The identity the auth service decided, carried between services so nobody can forge it.

The auth service signs an ``Identity`` with a key only the suite holds (``P13N_INTERNAL_KEY``)
and the gateway forwards it as the ``x-p13n-identity`` header, which it strips from every
client request first. Services verify the signature and the age before trusting a field.
A service calling another on its own behalf signs an identity with ``caller_service`` set.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import time
from collections.abc import Callable

from p13n.auth.v1 import identity_pb2

from services.common.errors import Unauthenticated

IDENTITY_HEADER = "x-p13n-identity"
# A deleted credential must be refused everywhere within 5 s (docs/design.md#revocation):
# the auth processes drop it within their 0.25 s poll, and an identity issued just before
# that is accepted for at most this long after. ``issued_at`` is whole seconds, rounded down,
# so an identity lives between MAX_AGE_SECONDS - 1 and MAX_AGE_SECONDS: at least 3 s from
# ext_authz to the last service that checks it. Every hop is milliseconds; what could outlast
# it is a request body that takes over 3 s to upload after its headers (docs/design.md says
# so); a call made on a caller's behalf re-signs, or forwards a header checked moments before.
MAX_AGE_SECONDS = 4

current: contextvars.ContextVar[identity_pb2.Identity | None] = contextvars.ContextVar(
    "identity", default=None
)
# The signed header the identity came in, forwarded unchanged when a service calls another
# on the caller's behalf (so the callee applies the caller's own permissions).
current_header: contextvars.ContextVar[str] = contextvars.ContextVar("identity_header", default="")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(identity: identity_pb2.Identity, key: bytes, now: float | None = None) -> str:
    """Returns the header value carrying ``identity``, stamped with the issue time."""
    stamped = identity_pb2.Identity()
    stamped.CopyFrom(identity)
    stamped.issued_at = int(time.time() if now is None else now)
    payload = stamped.SerializeToString(deterministic=True)
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(value: str, key: bytes, clock: Callable[[], float] = time.time) -> identity_pb2.Identity:
    """Returns the identity in a header value, or raises Unauthenticated."""
    try:
        payload_text, mac_text = value.split(".", 1)
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except ValueError:
        raise Unauthenticated("Malformed identity header", reason="BAD_IDENTITY") from None
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise Unauthenticated("Identity signature does not match", reason="BAD_IDENTITY")
    identity = identity_pb2.Identity.FromString(payload)
    if abs(clock() - identity.issued_at) > MAX_AGE_SECONDS:
        raise Unauthenticated("Identity is too old", reason="STALE_IDENTITY")
    return identity


def service_identity(caller: str) -> identity_pb2.Identity:
    """The identity a service uses when it calls another on its own behalf."""
    return identity_pb2.Identity(caller_service=caller)
