"""Password policy and argon2id hashing.

Hashing is deliberately slow (argon2-cffi's default RFC 9106 low-memory profile:
argon2id, 3 passes over 64 MiB, ~50-100 ms), so the service must call
``hash``/``verify`` through ``asyncio.to_thread``, never on the event loop.

Passwords are NFKC-normalised before the policy check and before hashing, as
NIST SP 800-63B advises, so that the same visible password typed on another
keyboard or OS still verifies.
"""

from __future__ import annotations

import unicodedata
from secrets import token_hex
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import VerificationError

from services.common.errors import InvalidArgument

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "Passwords",
    "check_password_policy",
]

# NIST SP 800-63B-4 asks for at least 15 characters when the password is the
# only factor, and for no composition rules (they make passwords weaker).
MIN_PASSWORD_LENGTH: Final = 15
# Long enough for any passphrase or manager-generated password; bounds the work
# an anonymous sign-in request can cause.
MAX_PASSWORD_LENGTH: Final = 256

_FIELD: Final = "password"


def check_password_policy(password: str, *, email: str = "") -> None:
    """Refuse a new password that is blank, too short, too long or the email itself.

    Raises ``InvalidArgument(..., field="password")``; the messages follow the
    wording of the design's name rules so users meet one style.
    """
    normalized = _normalize(password)
    if not normalized.strip():
        raise InvalidArgument("Password can't be blank", field=_FIELD, reason="PASSWORD_BLANK")
    if len(normalized) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(
            f"Password is too short (minimum is {MIN_PASSWORD_LENGTH} characters); "
            "a passphrase of a few unrelated words is long enough and easy to type",
            field=_FIELD,
            reason="PASSWORD_TOO_SHORT",
            metadata={"minimum": str(MIN_PASSWORD_LENGTH)},
        )
    if len(normalized) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument(
            f"Password is too long (maximum is {MAX_PASSWORD_LENGTH} characters)",
            field=_FIELD,
            reason="PASSWORD_TOO_LONG",
            metadata={"maximum": str(MAX_PASSWORD_LENGTH)},
        )
    if email and normalized.casefold() == _normalize(email).strip().casefold():
        raise InvalidArgument(
            "Password can't be the same as the email address",
            field=_FIELD,
            reason="PASSWORD_IS_EMAIL",
        )


class Passwords:
    """Hashes and verifies passwords with argon2id.

    Tests pass a cheap ``PasswordHasher``; production uses the default one.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        hasher = hasher if hasher is not None else PasswordHasher()
        if hasher.type is not Type.ID:
            raise ValueError("passwords must be hashed with argon2id")
        self._hasher = hasher
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """The encoded argon2id hash (parameters and salt included) to store."""
        return self._hasher.hash(_normalize(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash``.

        Pass ``None`` for an unknown user: a dummy hash is still verified so that
        the answer takes as long as for a real user and does not reveal which
        emails have accounts. A stored hash that is not an argon2 hash at all
        raises ``argon2.exceptions.InvalidHashError``: that is corrupt storage,
        not a wrong password.
        """
        normalized = _normalize(password)
        if len(normalized) > MAX_PASSWORD_LENGTH:
            # No stored password is this long; the length is the caller's own
            # knowledge, so answering fast reveals nothing.
            return False
        if stored_hash is None:
            self._verify(self._dummy(), normalized)
            return False
        return self._verify(stored_hash, normalized)

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether to re-hash after a successful sign-in (parameters or type changed)."""
        return self._hasher.check_needs_rehash(stored_hash)

    def _verify(self, stored_hash: str, normalized: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, normalized)
        except VerificationError:
            # Covers a mismatch and any failure inside argon2: fail closed.
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(token_hex(16))
        return self._dummy_hash


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)
