"""What the auth service needs from its storage: the records, and the Protocols that read and write them.

Handlers, the in-memory directory and the operator commands are typed against these
Protocols, never against SQL; ``services.auth.store`` implements them once, over SQLite or
PostgreSQL (``services.auth.backends``). An implementation must guarantee:

- **The generation counter.** Every committed change that can alter a data-plane decision
  (services, tokens, API keys, sessions, account flags, accounts) increments one counter in
  the *same* transaction as the change, and ``credentials()`` returns the counter together
  with a snapshot consistent with it. Every auth process polls ``generation()`` and reloads
  on change; that is how a deleted token stops working everywhere within a second. A
  backend that can tell other processes at commit does so through ``listening`` (the poll
  stays, as the fallback for a notification lost with its connection).
  Re-authenticating a session and creating a user change no decision and do not bump it.
- **Atomic writers.** ``registry_writing()`` is one serialisable transaction: a name checked
  for uniqueness, or a token count checked against its limit, is still true at commit. An
  exception raised inside the block (a refusal) rolls everything back, the bump included.
  The other writing methods are each one transaction.
- **Readers see committed data only**, and ``registry_reading()`` one consistent view.
- **Ids** are positive integers assigned by the store, increasing, so pages ordered by id
  and continued ``after`` the last id neither skip nor repeat a record.
- **Secrets** arrive already hashed or sealed (``lookup_hash``, ``seal``); the store keeps the
  bytes it is given and never sees a secret in clear.
- **Scoping**: every look-up that takes an ``account_id`` finds nothing outside that
  account, so a handler cannot leak another account's resource by forgetting a check.

Look-ups return ``None`` (or ``False``) for "no such thing"; the handler chooses the error,
so every refusal's wording stays in the handler that owns it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from services.auth.ratelimit import Limit
from services.common import audit

# -- records ------------------------------------------------------------------------------


# The audit entry of a change, given the id of the resource changed (known, for a create,
# only inside the transaction).
AuditNote = Callable[[int], audit.Entry]


@dataclass(frozen=True)
class ServiceRecord:
    """A personalization service as stored."""

    id: int
    account_id: int
    parent_segment_id: str
    reactor_id: str
    name: str
    description: str
    type: str  # a ``validation.ServiceType`` value
    allowed_origins: list[str]
    rate_per_second: int
    rate_burst: int
    create_time: float
    update_time: float


@dataclass(frozen=True)
class ServiceDraft:
    """The fields a new service is created with (already validated)."""

    parent_segment_id: str
    reactor_id: str
    name: str
    description: str
    type: str
    allowed_origins: list[str]
    rate_per_second: int
    rate_burst: int


@dataclass(frozen=True)
class ServiceChanges:
    """The updatable fields of a service, all of them, as they are to be stored."""

    name: str
    description: str
    allowed_origins: list[str]
    rate_per_second: int
    rate_burst: int


@dataclass(frozen=True)
class TokenRecord:
    """A token as stored: its secret only as a lookup hash and a sealed copy."""

    id: int
    service_id: int
    name: str
    allowed_ips: list[str]
    lookup_hash: bytes
    encrypted_secret: bytes
    create_time: float


@dataclass(frozen=True)
class IdentitySecretRecord:
    """A public service's identity secret as stored: only its sealed copy."""

    id: int
    service_id: int
    name: str
    encrypted_secret: bytes
    create_time: float


@dataclass(frozen=True)
class TokenDraft:
    """The fields a new token is created with (already validated)."""

    name: str
    allowed_ips: list[str]
    lookup_hash: bytes


class Login(NamedTuple):
    """What signing in needs of a user: who it is, and the argon2id hash to verify."""

    user_id: int
    password_hash: str


@dataclass(frozen=True)
class MeRecord:
    """What the caller's own view needs: the account's flags (sorted) and the user's email."""

    flags: list[str]
    email: str | None


@dataclass(frozen=True)
class TokenCredential:
    """A token as the directory needs it; its service is in ``Credentials.services``."""

    id: int
    service_id: int
    allowed_ips: list[str]
    lookup_hash: bytes


@dataclass(frozen=True)
class ApiKeyCredential:
    id: int
    account_id: int
    type: str  # "MASTER" or "WRITE_ONLY"
    lookup_hash: bytes


@dataclass(frozen=True)
class SessionCredential:
    id: int
    lookup_hash: bytes
    expire_time: float
    user_id: int
    account_id: int
    role: str  # a ``validation.Role`` value


@dataclass(frozen=True)
class SessionLookup:
    """A session looked up by its hash (None: no such session), as of ``generation``."""

    session: SessionCredential | None
    generation: int


@dataclass(frozen=True)
class Credentials:
    """Everything the directory loads, consistent with ``generation``."""

    generation: int
    services: list[ServiceRecord]
    tokens: list[TokenCredential]
    api_keys: list[ApiKeyCredential]
    sessions: list[SessionCredential]  # unexpired ones only


@dataclass(frozen=True)
class BucketState:
    """A failure budget's token bucket as the store left it (``FailureStore``)."""

    budget: str
    key: str  # a keyed hash made by the caller: the store never holds an address or an email
    tokens: float
    updated: float  # wall-clock seconds
    allowed: bool  # whether the change that produced this state took a token (False if read)


@dataclass(frozen=True)
class Bootstrapped:
    account_id: int
    user_id: int


class Conflict(enum.Enum):
    """Why an account could not be bootstrapped; nothing was written."""

    ACCOUNT_NAME_TAKEN = "ACCOUNT_NAME_TAKEN"
    EMAIL_TAKEN = "EMAIL_TAKEN"


# -- protocols ----------------------------------------------------------------------------


class RegistryReader(Protocol):
    """Reads of services and tokens, within one consistent view."""

    async def service(
        self, account_id: int, parent_segment_id: str, service_id: int
    ) -> ServiceRecord | None: ...

    async def services_after(
        self, account_id: int, parent_segment_id: str, after: int, limit: int
    ) -> list[ServiceRecord]:
        """Up to ``limit`` services whose id is greater than ``after``, by id."""
        ...

    async def token(self, service_id: int, token_id: int) -> TokenRecord | None: ...

    async def tokens_after(self, service_id: int, after: int, limit: int) -> list[TokenRecord]:
        """Up to ``limit`` tokens of the service whose id is greater than ``after``, by id."""
        ...

    async def flags(self, account_id: int) -> set[str]: ...

    async def identity_secrets(self, service_id: int) -> list[IdentitySecretRecord]:
        """The service's identity secrets, oldest first."""
        ...

    async def public_identity_secrets(self, service_id: int) -> list[IdentitySecretRecord]:
        """The identity secrets of the service if it is public (none otherwise), oldest first."""
        ...

    async def session_authenticated_time(self, session_id: int) -> float | None:
        """When the session last proved its password; ``None`` for no such session."""
        ...


class RegistryWriter(RegistryReader, Protocol):
    """The writes of one transaction; committing bumps the generation if anything changed."""

    async def service_names(
        self, account_id: int, parent_segment_id: str, except_id: int = -1
    ) -> list[str]:
        """Names of the parent segment's services, but the one ``except_id`` names."""
        ...

    async def token_names(self, service_id: int) -> list[str]: ...

    async def tokens_in_parent_segment(self, account_id: int, parent_segment_id: str) -> int: ...

    async def insert_service(
        self, account_id: int, draft: ServiceDraft, now: float
    ) -> ServiceRecord: ...

    async def update_service(
        self, current: ServiceRecord, changes: ServiceChanges, now: float
    ) -> ServiceRecord: ...

    async def delete_service(self, service_id: int) -> None:
        """Deletes the service and its tokens."""
        ...

    async def insert_token(
        self, service_id: int, draft: TokenDraft, seal: Callable[[int], bytes], now: float
    ) -> TokenRecord:
        """Inserts a token; ``seal(id)`` gives the encrypted copy, bound to the new id."""
        ...

    async def delete_token(self, token_id: int) -> None: ...

    async def insert_identity_secret(
        self, service_id: int, name: str, seal: Callable[[int], bytes], now: float
    ) -> IdentitySecretRecord:
        """Inserts an identity secret; ``seal(id)`` gives the encrypted copy, bound to its id."""
        ...

    async def delete_identity_secret(self, secret_id: int) -> None: ...

    async def record(self, entry: audit.Entry) -> None:
        """Stores the audit entry of a change made in this transaction (commits with it)."""
        ...


class RegistryStore(Protocol):
    """Services and tokens (the registry admin API)."""

    def registry_reading(self) -> AbstractAsyncContextManager[RegistryReader]: ...

    def registry_writing(self) -> AbstractAsyncContextManager[RegistryWriter]: ...


class IdentityStore(Protocol):
    """Users, sessions and API keys (the identity admin API)."""

    async def login(self, email: str) -> Login | None: ...

    async def password_hash(self, user_id: int) -> str | None: ...

    async def create_session(
        self, user_id: int, lookup_hash: bytes, expire_time: float, now: float
    ) -> None:
        """Stores a session authenticated ``now``; expired sessions are dropped meanwhile."""
        ...

    async def mark_authenticated(self, session_id: int, now: float) -> None: ...

    async def me(self, account_id: int, user_id: int) -> MeRecord: ...

    async def create_user(
        self,
        account_id: int,
        email: str,
        password_hash: str,
        role: str,
        now: float,
        entry: AuditNote,
    ) -> int | None:
        """The new user's id; ``None`` (nothing written) when the email is taken.

        ``entry(id)`` is the change's audit entry, stored in the same transaction (as in
        ``create_api_key`` and ``delete_api_key``)."""
        ...

    async def create_api_key(
        self, account_id: int, key_type: str, lookup_hash: bytes, now: float, entry: AuditNote
    ) -> int: ...

    async def delete_api_key(self, account_id: int, key_id: int, entry: AuditNote) -> bool:
        """``False`` (nothing written) when the account has no such key."""
        ...

    async def delete_session(self, session_id: int) -> bool:
        """Ends a session (sign-out); ``False`` when there is none by that id."""
        ...


class AccountStore(Protocol):
    """Accounts and their feature flags (internal API and operator commands)."""

    async def account_flags(self, account_id: int) -> list[str] | None:
        """The account's flags, sorted; ``None`` for no such account."""
        ...

    async def bootstrap_account(
        self, name: str, email: str, password_hash: str, master_key_hash: bytes, now: float
    ) -> Bootstrapped | Conflict:
        """Creates an account, its OWNER and a MASTER key: all of them, or nothing."""
        ...

    async def set_flag(self, account_id: int, flag: str, on: bool) -> bool:
        """``False`` (nothing written) for no such account."""
        ...


class InternalStore(AccountStore, RegistryStore, Protocol):
    """What the internal questions read: accounts, and public services' identity secrets."""


class CredentialStore(Protocol):
    """What the in-memory directory loads; read often, never on the request path."""

    async def generation(self) -> int: ...

    def listening(self, on_change: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        """While entered, ``on_change`` is called when another process may have changed the
        credentials (and after a lost connection); a backend that cannot tell calls nothing."""
        ...

    async def credentials(self, now: float) -> Credentials: ...

    async def session(self, lookup_hash: bytes) -> SessionLookup:
        """A session by its lookup hash, expired or not (the directory checks expiry), and
        the generation of the same read."""
        ...


class FailureStore(Protocol):
    """Failure budgets every auth process on the store shares (``failures.StoreBuckets``).

    Each change is one transaction on one bucket, with the token-bucket arithmetic of
    ``limit``; its new state is told to every process listening (on backends that can).
    """

    async def take_failure(self, budget: str, key: str, limit: Limit, now: float) -> BucketState:
        """Takes a token from the bucket if it holds one (a new bucket starts full)."""
        ...

    async def give_back_failure(
        self, budget: str, key: str, limit: Limit, now: float
    ) -> BucketState:
        """Returns a token taken (never past the limit's burst)."""
        ...

    async def read_failure_buckets(self, now: float, most: int) -> list[BucketState]:
        """The buckets not full at ``now`` (at most ``most``, the most recently changed);
        ``allowed`` means nothing in them."""
        ...

    def listening_failures(
        self, on_heard: Callable[[BucketState], None], on_missed: Callable[[], None]
    ) -> AbstractAsyncContextManager[None]:
        """While entered, ``on_heard`` gets every bucket any process changes, and
        ``on_missed`` is called when some may have been missed (a lost connection)."""
        ...


class AuthStore(
    RegistryStore, IdentityStore, AccountStore, CredentialStore, FailureStore, Protocol
):
    """Everything the auth service stores; what ``open_store`` returns."""

    async def check_secret_key(self, secret_key: bytes) -> None:
        """Records the key's fingerprint on first use; refuses a different key afterwards."""
        ...

    async def close(self) -> None: ...
