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

Only private credentials are trusted (``trusted``): a private token, or a master API key
without a token, and previews (which write nothing). Every other caller must prove:

- a public token, on either path (it is readable by anyone who opens the page), with the
  secrets of its own public service;
- a write-only API key on the Ingest API (a page may send one beside the public token, so it
  is as public as the token). Such a key belongs to the account, not to one public service,
  so no service's secrets speak for it: its records' proofs are not accepted, and their
  verified identifiers are always left out. A site's server that knows who signed in sends
  the event with a private token (private path) or a master key instead;
- a caller whose credential is not known (fail closed): no proof is accepted either.

A missing or wrong proof is not an error: the value is left out of the event (not stitched,
not looked up, not stored), the event is answered as the visitor its other identifiers
name, and ``tracking`` counts and logs the key's name, never the value. The proofs field
itself is removed before anything is stored, on every path, trusted or not.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from p13n.auth.v1 import identity_pb2

from services.common import events
from services.common.errors import InvalidArgument
from services.profile.stitching import StitchingKey, identity_value

FIELD = "p13n_proofs"
MAX_PROOFS = 20


def _proof_shape(where: str) -> str:
    return (
        f"{where}.{FIELD} must be an object mapping a stitching key's name to the hex "
        "HMAC-SHA256 proof of its value, made by the site's server with an identity secret"
    )


class Failure(StrEnum):
    """Why a verified identifier was not used (what the counter and log line say)."""

    MISSING = "from a public token without a proof"
    INVALID = "from a public token with a proof that does not match"
    NOT_ACCEPTED = (
        "from a credential that cannot prove one (a write-only API key on the Ingest API, "
        "or no known credential)"
    )


@dataclass(frozen=True)
class Proofs:
    """An untrusted event's proofs and the secrets of its service that may have made them.

    ``accepted`` is False for a caller no secret speaks for: every verified value fails.
    """

    given: Mapping[str, str]
    secrets: tuple[str, ...]
    accepted: bool = True

    def check(self, key: str, value: str) -> Failure | None:
        """None when a current secret made the proof of ``value`` for ``key``."""
        if not self.accepted:
            return Failure.NOT_ACCEPTED
        proof = self.given.get(key)
        if proof is None:
            return Failure.MISSING
        offered = proof.strip().lower().encode("utf-8")
        matched = False
        for secret in self.secrets:  # every secret, so the time does not tell which matched
            matched |= hmac.compare_digest(sign(secret, key, value).encode("ascii"), offered)
        return None if matched else Failure.INVALID


# What an untrusted caller that no service's secrets speak for is checked with.
UNPROVABLE = Proofs({}, (), accepted=False)


def trusted(caller: identity_pb2.Identity | None) -> bool:
    """Whether ``caller`` is positively a private credential, whose identifiers need no proof.

    A private token, or a master API key sent without a personalization token. Anything
    else (a public token, a write-only key, a service's own call, no identity) is not.
    """
    if caller is None:
        return False
    if caller.token_type == identity_pb2.TOKEN_TYPE_PRIVATE:
        return True
    return (
        caller.token_type == identity_pb2.TOKEN_TYPE_UNSPECIFIED
        and caller.api_key_type == identity_pb2.MASTER
    )


def sign(secret: str, key: str, value: str) -> str:
    """The proof of ``value`` for the stitching key ``key``, as the site's backend makes it."""
    message = f"{key}\n{value}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def take(
    event: tuple[events.Event, str], where: str = "event"
) -> tuple[tuple[events.Event, str], dict[str, str]]:
    """The event without its proofs field (stored JSON re-encoded), and the proofs it held.

    Raises InvalidArgument for a proofs field of the wrong shape: a developer's mistake
    that should be seen, not silently lose the visitor's identity. ``where`` names the
    event in that error (``records[3]`` on the Ingest API).
    """
    body = event[0]
    if FIELD not in body:
        return event, {}
    raw = body[FIELD]
    if not isinstance(raw, dict) or len(raw) > MAX_PROOFS:
        raise InvalidArgument(
            _proof_shape(where), reason="INVALID_PROOFS", field=f"{where}.{FIELD}"
        )
    given: dict[str, str] = {}
    for name, proof in raw.items():
        if not isinstance(proof, str) or len(proof) > 256:
            raise InvalidArgument(
                _proof_shape(where), reason="INVALID_PROOFS", field=f"{where}.{FIELD}.{name}"
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
