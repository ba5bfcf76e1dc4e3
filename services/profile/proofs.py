"""Verified identifiers: a public-path value of a ``verified`` key counts only with a proof.

Anything a browser can send, anyone can send: a visitor typing another member's id into
an event would otherwise be stitched to that member's profile and shown its data
(issue 13). The site's own backend, which knows who signed in, therefore signs each
verified identifier with one of its public service's identity secrets, and the page sends
the proof beside the event's fields:

    {"td_client_id": "...", "member_id": "M-1001",
     "p13n_proofs": {"member_id": "<hex HMAC-SHA256(secret, 'member_id\\nM-1001')>"}}

The MAC covers the key's name and the value, separated by a newline (a key name cannot
hold one: names are printable), so a proof for one key cannot be replayed on another. The
value is the identity string stitching uses (``stitching.identity_value``: a number as
JSON writes it). Any of the service's current secrets may have made it (rotation), and the
comparison is constant-time.

Who must prove: a caller with a public token, on either path (a public token is readable by
anyone who opens the page). Private tokens, the Ingest API and previews are trusted. A
missing or wrong proof is not an error: the value is left out of the event (not stitched,
not looked up, not stored), the event is answered as the visitor its other identifiers
name, and ``tracking`` counts and logs the key's name, never the value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from services.common import events
from services.common.errors import InvalidArgument
from services.profile.stitching import StitchingKey, identity_value

FIELD = "p13n_proofs"
MAX_PROOFS = 20
_PROOF_SHAPE = (
    f"event.{FIELD} must be an object mapping a stitching key's name to the hex "
    "HMAC-SHA256 proof of its value, made by the site's server with an identity secret"
)


class Failure(StrEnum):
    """Why a verified identifier was not used (what the counter and log line say)."""

    MISSING = "without a proof"
    INVALID = "with a proof that does not match"


@dataclass(frozen=True)
class Proofs:
    """A public-path event's proofs and the secrets of its service that may have made them."""

    given: Mapping[str, str]
    secrets: tuple[str, ...]

    def check(self, key: str, value: str) -> Failure | None:
        """None when a current secret made the proof of ``value`` for ``key``."""
        proof = self.given.get(key)
        if proof is None:
            return Failure.MISSING
        offered = proof.strip().lower().encode("utf-8")
        matched = False
        for secret in self.secrets:  # every secret, so the time does not tell which matched
            matched |= hmac.compare_digest(sign(secret, key, value).encode("ascii"), offered)
        return None if matched else Failure.INVALID


def sign(secret: str, key: str, value: str) -> str:
    """The proof of ``value`` for the stitching key ``key``, as the site's backend makes it."""
    message = f"{key}\n{value}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def take(event: tuple[events.Event, str]) -> tuple[tuple[events.Event, str], dict[str, str]]:
    """The event without its proofs field (stored JSON re-encoded), and the proofs it held.

    Raises InvalidArgument for a proofs field of the wrong shape: a developer's mistake
    that should be seen, not silently lose the visitor's identity.
    """
    body = event[0]
    if FIELD not in body:
        return event, {}
    raw = body[FIELD]
    if not isinstance(raw, dict) or len(raw) > MAX_PROOFS:
        raise InvalidArgument(_PROOF_SHAPE, reason="INVALID_PROOFS", field=f"event.{FIELD}")
    given: dict[str, str] = {}
    for name, proof in raw.items():
        if not isinstance(proof, str) or len(proof) > 256:
            raise InvalidArgument(
                _PROOF_SHAPE, reason="INVALID_PROOFS", field=f"event.{FIELD}.{name}"
            )
        given[name] = proof
    rest = {name: value for name, value in body.items() if name != FIELD}
    return (rest, events.encode(rest)), given


def screen(
    keys: Iterable[StitchingKey], event: events.Event, proofs: Proofs
) -> tuple[events.Event, tuple[tuple[str, Failure], ...]]:
    """The event without the verified identifiers it cannot prove, and which ones those were.

    A value that would not be an identity anyway (blank, excluded, not matching the key's
    regex) is left alone: it is no claim.
    """
    failed: list[tuple[str, Failure]] = []
    for key in keys:
        if not key.verified or key.workflow_only:
            continue
        value = identity_value(event.get(key.name))
        if value is None or not key.accepts(value):
            continue
        failure = proofs.check(key.name, value)
        if failure is not None:
            failed.append((key.name, failure))
    if not failed:
        return event, ()
    dropped = {name for name, _ in failed}
    return {n: v for n, v in event.items() if n not in dropped}, tuple(failed)
