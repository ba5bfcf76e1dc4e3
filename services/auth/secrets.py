"""Token secrets, API keys and session tokens: generation, parsing, hash and encrypted copy.

A secret reads ``<prefix><body><checksum>``, e.g. ``p13n_pub_`` + 43 + 6 characters:

- the *prefix* names the kind, so that a leaked credential is found by a scanner
  (``SECRET_PATTERN``) and a human can tell a browser token from a master key;
- the *body* is 256 bits from the operating system's CSPRNG, in base62 so the
  secret survives URLs, headers, shells and double-click selection intact;
- the *checksum* is CRC32 of prefix and body in base62. It lets a typo'd or
  truncated secret be refused before any lookup. CRC32 detects every error
  burst of up to 32 bits, hence every single-character substitution and every
  swap of two adjacent characters; it is not a MAC and needs none (the body is
  the secret).

The server stores a secret only as an HMAC-SHA256 *lookup hash* (an index key
that is useless without the server key) and an AES-256-GCM *encrypted copy*
whose associated data binds it to its record id, for the reveal call. Both keys
are derived from one master key so that operators manage a single value.

Nothing here logs, and no error message echoes its input: the input may be a
secret. ``Secret`` hides its value from ``repr``/``str``; call ``reveal()`` at
the one place the plaintext must leave the process.
"""

from __future__ import annotations

import enum
import hmac
import math
import re
import string
import zlib
from collections.abc import Collection
from dataclasses import dataclass

# The standard library's module: absolute imports never resolve to this file.
from secrets import token_bytes
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.errors import Unauthenticated

__all__ = [
    "API_KEY_KINDS",
    "SECRET_PATTERN",
    "TOKEN_KINDS",
    "DecryptionFailed",
    "Secret",
    "SecretKeys",
    "SecretKind",
    "TokenString",
    "generate_secret",
    "identity_secret_record",
    "make_token",
    "parse_api_key",
    "parse_session",
    "parse_token",
]


class SecretKind(enum.Enum):
    """What a secret grants, spelled as its prefix."""

    PUBLIC_TOKEN = "p13n_pub_"
    PRIVATE_TOKEN = "p13n_priv_"
    MASTER_KEY = "p13n_master_"
    WRITE_ONLY_KEY = "p13n_write_"
    SESSION = "p13n_sess_"
    IDENTITY_SECRET = "p13n_idv_"

    @property
    def prefix(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        """How messages name the kind."""
        return _LABELS[self]


_LABELS: Final = {
    SecretKind.PUBLIC_TOKEN: "public token",
    SecretKind.PRIVATE_TOKEN: "private token",
    SecretKind.MASTER_KEY: "master API key",
    SecretKind.WRITE_ONLY_KEY: "write-only API key",
    SecretKind.SESSION: "session token",
    SecretKind.IDENTITY_SECRET: "identity secret",
}
_HINTS: Final = {
    SecretKind.PUBLIC_TOKEN: "send tokens in the WP13n-Token header",
    SecretKind.PRIVATE_TOKEN: "send tokens in the WP13n-Token header",
    SecretKind.MASTER_KEY: 'send API keys as "Authorization: TD1 <key>"',
    SecretKind.WRITE_ONLY_KEY: 'send API keys as "Authorization: TD1 <key>"',
    SecretKind.SESSION: 'send session tokens as "Authorization: Bearer <session token>"',
    SecretKind.IDENTITY_SECRET: "identity secrets sign proofs on the site's server; never send one",
}
TOKEN_KINDS: Final = frozenset({SecretKind.PUBLIC_TOKEN, SecretKind.PRIVATE_TOKEN})
API_KEY_KINDS: Final = frozenset({SecretKind.MASTER_KEY, SecretKind.WRITE_ONLY_KEY})

_ALPHABET: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ENTROPY_BYTES: Final = 32
# The fewest base62 digits that hold every 256-bit value (43), so all bits survive.
_BODY_LEN: Final = math.ceil(_ENTROPY_BYTES * 8 / math.log2(len(_ALPHABET)))
_CHECKSUM_LEN: Final = 6  # 62**6 > 2**32
_SECRET_LEN: Final = _BODY_LEN + _CHECKSUM_LEN
_SECRET_TAIL_RE: Final = re.compile(rf"[0-9A-Za-z]{{{_SECRET_LEN}}}")
# Generous bound on a full token string, checked before any other work.
_MAX_TOKEN_STRING_LEN: Final = 512
_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Encrypted copy: version byte, then a random 96-bit nonce (safe far beyond the
# number of secrets one key will ever seal), then ciphertext and GCM tag.
_COPY_VERSION: Final = b"\x01"
_NONCE_LEN: Final = 12

SECRET_PATTERN: Final = re.compile(
    r"\b(?:"
    + "|".join(re.escape(kind.prefix) for kind in SecretKind)
    + rf"){_SECRET_TAIL_RE.pattern}\b"
)
"""Finds p13n secrets in text: for leak scanning and log scrubbing."""


class DecryptionFailed(Exception):
    """A stored encrypted copy could not be opened with this key and record id.

    Deliberately not a ``P13nError``: it means a wrong key or corrupt storage,
    a server fault that must surface as INTERNAL, never as the caller's mistake.
    """


class Secret:
    """A secret string whose ``repr`` and ``str`` show only its kind.

    Made by ``generate_secret``, the parsers and ``SecretKeys.decrypt``, which
    guarantee that ``kind`` matches the value. Equality is constant-time.
    Instances are unhashable (defining ``__eq__`` drops ``__hash__``), which
    keeps secrets out of sets and dict keys.
    """

    __slots__ = ("_value", "kind")

    def __init__(self, value: str, kind: SecretKind) -> None:
        self._value = value
        self.kind = kind

    def reveal(self) -> str:
        """The plaintext, for the create and reveal responses and the lookup hash only."""
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __repr__(self) -> str:
        return f"Secret({self.kind.name}, {self.kind.prefix}…)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class TokenString:
    """A parsed ``<account_id>/<reactor_id>/<secret>`` personalization token.

    The ids only *name* the token's account and parent segment: the caller must
    check that they equal those of the record found by the secret's lookup hash.
    """

    account_id: str
    reactor_id: str
    secret: Secret

    def reveal(self) -> str:
        """The full token string as the create and reveal responses show it."""
        return f"{self.account_id}/{self.reactor_id}/{self.secret.reveal()}"


def generate_secret(kind: SecretKind) -> Secret:
    """A new secret of ``kind`` carrying 256 bits from the OS CSPRNG."""
    entropy = int.from_bytes(token_bytes(_ENTROPY_BYTES), "big")
    head = kind.prefix + _base62(entropy, _BODY_LEN)
    return Secret(head + _checksum(head), kind)


def identity_secret_record(secret_id: int) -> str:
    """The record id an identity secret's copy is sealed under: apart from tokens' ids, so
    that neither copy opens as the other."""
    return f"identity_secret/{secret_id}"


def make_token(account_id: str, reactor_id: str, secret: Secret) -> TokenString:
    """Assemble a token string; refuses ids that the parser would refuse."""
    if secret.kind not in TOKEN_KINDS:
        raise ValueError(f"{secret.kind.name} is not a personalization token secret")
    for name, value in (("account_id", account_id), ("reactor_id", reactor_id)):
        if not _ID_RE.fullmatch(value):
            raise ValueError(f"{name} must match {_ID_RE.pattern}")
    return TokenString(account_id, reactor_id, secret)


def parse_token(text: str) -> TokenString:
    """Parse a full token string, refusing anything malformed before any lookup.

    Raises ``Unauthenticated`` (reason ``TOKEN_MALFORMED`` or
    ``TOKEN_CHECKSUM_MISMATCH``) with a message that says what to fix and never
    repeats the input. Both token kinds are accepted: whether a private token
    may be used on a path is the caller's decision, after the lookup.
    """
    if len(text) > _MAX_TOKEN_STRING_LEN:
        raise _malformed("token", "it is too long; copy the whole token again")
    parts = text.split("/")
    if len(parts) != 3 or not all(parts):
        raise _malformed("token", 'expected "<account_id>/<reactor_id>/<secret>"')
    account_id, reactor_id, raw_secret = parts
    if not (_ID_RE.fullmatch(account_id) and _ID_RE.fullmatch(reactor_id)):
        raise _malformed(
            "token",
            'the account id and reactor id may contain only letters, digits, "-" and "_" '
            "(at most 64 characters each)",
        )
    secret = _parse_secret(raw_secret, TOKEN_KINDS, noun="token")
    return TokenString(account_id, reactor_id, secret)


def parse_api_key(text: str) -> Secret:
    """Parse an API key (the part after ``TD1 ``); errors as for ``parse_token``."""
    return _parse_secret(text, API_KEY_KINDS, noun="API key")


def parse_session(text: str) -> Secret:
    """Parse a session token (the part after ``Bearer ``); errors as for ``parse_token``."""
    return _parse_secret(text, {SecretKind.SESSION}, noun="session token")


class SecretKeys:
    """The server keys for lookup hashes, encrypted copies and failure buckets' names.

    Each is derived from one master key with HKDF-SHA256 under its own label,
    so a hash key can never double as an encryption key. Losing the master key
    makes every stored secret unusable; changing it requires re-hashing and
    re-encrypting (the encrypted copy's version byte leaves room for that).
    """

    MIN_MASTER_KEY_BYTES: Final = 32

    __slots__ = ("_aead", "_bucket_key", "_hash_key")

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < self.MIN_MASTER_KEY_BYTES:
            raise ValueError(
                f"the master key must be at least {self.MIN_MASTER_KEY_BYTES} random bytes"
            )
        self._hash_key = _derive(master_key, b"p13n lookup hash v1")
        self._aead = AESGCM(_derive(master_key, b"p13n encrypted copy v1"))
        self._bucket_key = _derive(master_key, b"p13n failure bucket name v1")

    def __repr__(self) -> str:
        return "SecretKeys(<hidden>)"

    def lookup_hash(self, secret: Secret) -> bytes:
        """The 32-byte index key under which a secret's record is stored and found."""
        return hmac.digest(self._hash_key, secret.reveal().encode("ascii"), "sha256")

    def bucket_name(self, key: str) -> str:
        """The name a failure budget's bucket of ``key`` (an address, an email) is stored and
        announced under: keyed, so that neither the table nor a listener on its channel can
        tell which address or email it is, even by hashing a list of candidates."""
        return hmac.new(self._bucket_key, key.encode(), "sha256").hexdigest()

    def matches(self, secret: Secret, stored_hash: bytes) -> bool:
        """Whether ``secret`` hashes to ``stored_hash``, compared in constant time."""
        return hmac.compare_digest(self.lookup_hash(secret), stored_hash)

    def encrypt(self, secret: Secret, record_id: str) -> bytes:
        """The copy to store for reveal; opens only with the same key and ``record_id``."""
        nonce = token_bytes(_NONCE_LEN)
        sealed = self._aead.encrypt(nonce, secret.reveal().encode("ascii"), _aad(record_id))
        return _COPY_VERSION + nonce + sealed

    def decrypt(self, blob: bytes, record_id: str) -> Secret:
        """Open a copy made by ``encrypt`` for the same ``record_id``.

        Raises ``DecryptionFailed`` for another record's copy, another key, or
        any change to the stored bytes.
        """
        header = len(_COPY_VERSION) + _NONCE_LEN
        if len(blob) <= header or blob[:1] != _COPY_VERSION:
            raise DecryptionFailed("unknown encrypted secret format")
        try:
            nonce, sealed = blob[len(_COPY_VERSION) : header], blob[header:]
            plain = self._aead.decrypt(nonce, sealed, _aad(record_id))
        except InvalidTag:
            raise DecryptionFailed("wrong key or record id, or the copy was altered") from None
        try:
            return _parse_secret(plain.decode("ascii"), frozenset(SecretKind), noun="secret")
        except (UnicodeDecodeError, Unauthenticated):
            # Authenticated yet unparsable: a bug at encryption time, not a caller's error.
            raise DecryptionFailed("the decrypted copy is not a valid secret") from None


def _parse_secret(text: str, kinds: Collection[SecretKind], *, noun: str) -> Secret:
    kind = next((k for k in SecretKind if text.startswith(k.prefix)), None)
    if kind is None:
        expected = " or ".join(sorted(k.prefix for k in kinds))
        raise _malformed(noun, f"it must start with {expected}; copy the whole {noun} again")
    if kind not in kinds:
        raise _malformed(noun, f"this is a {kind.label}; {_HINTS[kind]}")
    rest = text[len(kind.prefix) :]
    if not _SECRET_TAIL_RE.fullmatch(rest):
        raise _malformed(noun, f"the {noun} is truncated or altered; copy the whole {noun} again")
    head, checksum = text[:-_CHECKSUM_LEN], text[-_CHECKSUM_LEN:]
    if not hmac.compare_digest(checksum, _checksum(head)):
        raise Unauthenticated(
            f"Malformed {noun}: its checksum does not match, so a character was changed; "
            f"copy the whole {noun} again",
            reason=f"{_reason_noun(noun)}_CHECKSUM_MISMATCH",
        )
    return Secret(text, kind)


def _malformed(noun: str, detail: str) -> Unauthenticated:
    return Unauthenticated(f"Malformed {noun}: {detail}", reason=f"{_reason_noun(noun)}_MALFORMED")


def _reason_noun(noun: str) -> str:
    return noun.upper().replace(" ", "_")


def _checksum(head: str) -> str:
    return _base62(zlib.crc32(head.encode("ascii")), _CHECKSUM_LEN)


def _base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    if value:
        raise ValueError("value does not fit the width")
    return "".join(reversed(digits))


def _derive(master_key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master_key)


def _aad(record_id: str) -> bytes:
    # The version byte is bound too, so a copy cannot be replayed under another format.
    return _COPY_VERSION + b"p13n secret\x00" + record_id.encode("utf-8")
