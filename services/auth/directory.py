"""The in-memory view of credentials that every ext_authz decision reads.

The hot path never waits on a database: tokens, API keys, sessions and the services'
origins are loaded into dicts keyed by the secrets' lookup hashes. A background task polls
the store's ``generation`` every ``REFRESH_SECONDS`` and reloads on change, so a deleted
credential stops working in every auth process within that poll and a reload. On PostgreSQL
the store also notifies every replica at commit (``CredentialStore.listening``), which wakes
the task at once; the poll stays as the fallback for a notification lost with its
connection. It has its own loop: fetching event tables from the profile service may wait for
seconds and must not delay it. A process reloads at once after its own changes, so a token
it just created works immediately. docs/design.md#revocation adds the identity's maximum age
to make the 5 s bound.

The data plane has no look-up of an unknown credential in the store: a token created through
another replica is known here within a notification's delivery (milliseconds; the poll at
worst), and a look-up per unknown token would let random tokens turn into database queries.
The admin listener does look (``ensure_credentials``), bounded by the failure budgets.

The data plane's rate limits (per token, per address, its failures) live in this process's
memory: every request spends them, so sharing them would put a database write on every
decision. With ``replicas`` auth processes (``P13N_AUTH_REPLICAS``) each applies 1/N of every
such limit (``Limit.shared_by``), so N replicas behind a balancer allow together what one
process would, never N times that. The admin listener's failure budgets are rare events and
are shared instead, through the store (``failures.StoreBuckets``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from p13n.auth.v1 import identity_pb2

from services.auth import failures, networks, origins, ratelimit, secrets
from services.auth.store_protocols import (
    ApiKeyCredential,
    Credentials,
    CredentialStore,
    SessionCredential,
)
from services.common.errors import P13nError, Unavailable

log = logging.getLogger(__name__)

Identity = identity_pb2.Identity
# Fetches the event tables within a budget in seconds; ``patient`` waits out a reconnect.
EventTablesFetch = Callable[[float, bool], Awaitable[dict[tuple[str, str], set[str]]]]
# The poll is one indexed read of a counter; four a second keep revocation's share of its
# 5 s bound small (docs/design.md#revocation).
REFRESH_SECONDS = 0.25
# A look-up on a connection that died silently would otherwise wait for good, and the
# directory would stop following other replicas' changes: give up and try again.
REFRESH_TIMEOUT_SECONDS = 5.0
# Preflights that find no table share look-ups, started at most this often: a flood of
# preflights for made-up tables costs the profile service at most 20 small reads a second.
PREFLIGHT_MISS_SPACING_SECONDS = 0.05
# Envoy gives ext_authz 1 s; the look-up a preflight miss triggers (waiting behind a poll
# already in flight included) gets about half of it, which a loaded machine needs.
PREFLIGHT_FETCH_SECONDS = 0.5
EVENT_TABLES_REFRESH_SECONDS = 2.0
# Per client address: generous, because a whole office or mobile carrier can share one.
ADDRESS_LIMIT = ratelimit.Limit(rate=5000.0, burst=10000)
# Failed data-plane token or key attempts per address: enough for a typo, not for a scan.
# Only the failures are refused (services/auth/failures.py says why the admin listener differs).
FAILURE_LIMIT = ratelimit.Limit(rate=5.0, burst=50)

# A refusal always asks for some wait, even when the bucket is a rounding error from a token.
_LEAST_WAIT = 0.001

ROLES = {
    "VIEWER": identity_pb2.VIEWER,
    "EDITOR": identity_pb2.EDITOR,
    "ADMIN": identity_pb2.ADMIN,
    "OWNER": identity_pb2.OWNER,
}
API_KEY_TYPES = {
    "MASTER": identity_pb2.MASTER,
    "WRITE_ONLY": identity_pb2.WRITE_ONLY,
}


@dataclass(frozen=True)
class TokenEntry:
    identity: Identity
    origins: origins.OriginMatcher
    allowed_ips: tuple[str, ...]
    limit: ratelimit.Limit | None


@dataclass(frozen=True)
class SessionEntry:
    identity: Identity
    expire_time: float


@dataclass
class Snapshot:
    """Everything the decision needs, keyed for O(1) lookups."""

    tokens: dict[bytes, TokenEntry] = field(default_factory=dict)
    tokens_by_id: dict[str, TokenEntry] = field(default_factory=dict)
    api_keys: dict[bytes, Identity] = field(default_factory=dict)
    sessions: dict[bytes, SessionEntry] = field(default_factory=dict)
    # The ids a running stream's identity names, to ask whether its credential still exists.
    api_key_ids: set[str] = field(default_factory=set)
    session_expiry: dict[str, float] = field(default_factory=dict)
    # parent segment id → the origin matchers of its public services
    public_origins: dict[str, list[origins.OriginMatcher]] = field(default_factory=dict)


def _limit(rate: int, burst: int, replicas: int) -> ratelimit.Limit | None:
    """A service's configured limit, this process's share of it (None: the default's)."""
    if rate <= 0 and burst <= 0:
        return None
    default = ratelimit.DEFAULT_LIMIT
    configured = ratelimit.Limit(rate=float(rate or default.rate), burst=burst or default.burst)
    return configured.shared_by(replicas)


def build_snapshot(credentials: Credentials, replicas: int = 1) -> Snapshot:
    """Keys every credential and service of a load for the decision's look-ups."""
    snapshot = Snapshot()
    services = {service.id: service for service in credentials.services}
    matchers: dict[int, origins.OriginMatcher] = {}
    for service in credentials.services:
        matcher = origins.OriginMatcher(service.allowed_origins)
        matchers[service.id] = matcher
        if service.type == "PUBLIC":
            snapshot.public_origins.setdefault(service.parent_segment_id, []).append(matcher)
    for token in credentials.tokens:
        service = services[token.service_id]
        identity = Identity(
            account_id=str(service.account_id),
            parent_segment_id=service.parent_segment_id,
            service_id=str(service.id),
            reactor_id=service.reactor_id,
            token_id=str(token.id),
            token_type=identity_pb2.TOKEN_TYPE_PUBLIC
            if service.type == "PUBLIC"
            else identity_pb2.TOKEN_TYPE_PRIVATE,
        )
        entry = TokenEntry(
            identity=identity,
            origins=matchers[service.id],
            allowed_ips=tuple(token.allowed_ips),
            limit=_limit(service.rate_per_second, service.rate_burst, replicas),
        )
        snapshot.tokens[token.lookup_hash] = entry
        snapshot.tokens_by_id[identity.token_id] = entry
    for key in credentials.api_keys:
        snapshot.api_keys[key.lookup_hash] = _api_key_identity(key)
        snapshot.api_key_ids.add(str(key.id))
    for session in credentials.sessions:
        snapshot.sessions[session.lookup_hash] = _session_entry(session)
        snapshot.session_expiry[str(session.id)] = session.expire_time
    return snapshot


def _api_key_identity(key: ApiKeyCredential) -> Identity:
    return Identity(
        account_id=str(key.account_id),
        api_key_id=str(key.id),
        api_key_type=API_KEY_TYPES[key.type],
        # A master key acts as an ADMIN: everything but granting OWNER, so an admin cannot
        # mint a key to become an owner. A write-only key has no admin role at all.
        role=identity_pb2.ADMIN if key.type == "MASTER" else identity_pb2.ROLE_UNSPECIFIED,
    )


def _session_entry(session: SessionCredential) -> SessionEntry:
    identity = Identity(
        account_id=str(session.account_id),
        user_id=str(session.user_id),
        role=ROLES[session.role],
        session_id=str(session.id),
    )
    return SessionEntry(identity, session.expire_time)


class MemoryDirectory:
    """Answers ``authz.Directory`` from the current snapshot; refreshed in the background."""

    def __init__(
        self,
        store: CredentialStore,
        keys: secrets.SecretKeys,
        clock: Callable[[], float] = time.time,
        address_limit: ratelimit.Limit = ADDRESS_LIMIT,
        replicas: int = 1,
        admin_failures: failures.FailureBudgets | None = None,
    ) -> None:
        self._store = store
        self._replicas = replicas
        self._keys = keys
        self._clock = clock
        self._snapshot = Snapshot()
        self._generation = -1
        self._installs = 0  # snapshots installed so far: tells a load whether one raced it
        self._event_tables: dict[tuple[str, str], set[str]] = {}
        self._fetch_event_tables: EventTablesFetch | None = None
        self._tables_fetched_at = float("-inf")
        self._tables_started_at = float("-inf")  # the last look-up's start
        self._tables_fresh_from = float("-inf")  # the start of the last one that answered
        self._tables_lock = asyncio.Lock()
        # Separate limiters: a flood of client addresses must not evict token buckets.
        self._addresses = ratelimit.RateLimiter(address_limit.shared_by(replicas))
        self._tokens = ratelimit.RateLimiter(ratelimit.DEFAULT_LIMIT.shared_by(replicas))
        self._failures = ratelimit.RateLimiter(FAILURE_LIMIT.shared_by(replicas))
        self.admin_failures = admin_failures or failures.FailureBudgets()

    # -- loading -------------------------------------------------------------------

    async def reload(self) -> None:
        """Loads a fresh snapshot now (after this process changed something).

        Loads run concurrently (the refresher's, and one after each of this process's
        changes), and one that read earlier may finish later: it is dropped when a load
        installed meanwhile is of a newer generation, so a revoked credential never comes
        back. A load that started after the last install is always installed, even of a
        lower generation: the store then went back (restored), and is still the truth.
        """
        installs = self._installs
        credentials = await self._store.credentials(time.time())
        if credentials.generation < self._generation and self._installs != installs:
            return
        self._snapshot = build_snapshot(credentials, self._replicas)
        self._generation = credentials.generation
        self._installs += 1

    async def refresh_if_changed(self) -> None:
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT_SECONDS):
                if await self._store.generation() != self._generation:
                    await self.reload()
        except TimeoutError as exc:
            log.warning("the credential store did not answer within %s s", REFRESH_TIMEOUT_SECONDS)
            raise Unavailable("The credential store is unavailable; retry shortly") from exc

    def set_event_tables(self, tables: dict[tuple[str, str], set[str]]) -> None:
        self._event_tables = tables

    async def run_refresher(self, fetch_event_tables: EventTablesFetch) -> None:
        """Polls the store and the profile service until cancelled, each in its own loop."""
        self._fetch_event_tables = fetch_event_tables
        async with asyncio.TaskGroup() as loops:
            loops.create_task(self._poll_credentials())
            loops.create_task(self._poll_event_tables())

    async def _poll_credentials(self) -> None:
        changed = asyncio.Event()
        async with self._store.listening(changed.set):
            while True:
                changed.clear()  # before the read: a change committed during it wakes us again
                with contextlib.suppress(Exception):
                    await self.refresh_if_changed()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REFRESH_SECONDS):
                        await changed.wait()

    async def _poll_event_tables(self) -> None:
        while True:
            await self._refresh_event_tables(EVENT_TABLES_REFRESH_SECONDS, budget=2.0, patient=True)
            await asyncio.sleep(REFRESH_SECONDS)

    async def refresh_event_tables_for_preflight(self) -> None:
        """Looks the event tables up again when a preflight found none for its table.

        An event definition created a moment ago then works at once: only a look-up that
        started after the preflight arrived is sure to see it, so one is made, shared by
        every preflight that arrived before it started (a poll already in flight is waited
        for, not trusted). It must fit inside Envoy's ext_authz timeout: one budget for the
        wait and the look-up, with no waiting for a reconnect.
        """
        asked = time.monotonic()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PREFLIGHT_FETCH_SECONDS), self._tables_lock:
                if self._tables_fresh_from >= asked:
                    return  # a look-up that started after this preflight arrived answered
                spacing = (
                    self._tables_started_at + PREFLIGHT_MISS_SPACING_SECONDS - time.monotonic()
                )
                if spacing > 0:
                    await asyncio.sleep(spacing)
                await self._fetch_event_tables_now(PREFLIGHT_FETCH_SECONDS, patient=False)

    async def _refresh_event_tables(self, max_age: float, *, budget: float, patient: bool) -> None:
        async with self._tables_lock:
            if time.monotonic() - self._tables_fetched_at < max_age:
                return
            await self._fetch_event_tables_now(budget, patient=patient)

    async def _fetch_event_tables_now(self, budget: float, *, patient: bool) -> None:
        """One look-up; the caller holds ``_tables_lock``."""
        if self._fetch_event_tables is None:
            return
        started = self._tables_started_at = time.monotonic()
        try:
            self.set_event_tables(await self._fetch_event_tables(budget, patient))
            self._tables_fetched_at = time.monotonic()
            self._tables_fresh_from = started
        except Exception as error:  # the profile service may be starting
            log.debug("event tables not refreshed: %s", type(error).__name__)

    async def ensure_credentials(self, authorization: str, client_ip: str) -> None:
        """Loads an admin credential another auth process created since the last poll.

        Only for an address with failures left: a credential this process does not know is
        otherwise a failure, and a key made a moment ago elsewhere must not count as one; a
        scanner's address soon stops costing a look-up.
        """
        if self.admin_failures_wait(client_ip) or self.identify_credentials(authorization):
            return
        if authorization.startswith("TD1 "):
            await self.refresh_if_changed()
        else:
            await self.ensure_session(authorization)

    async def ensure_session(self, authorization: str) -> None:
        """Loads a session created by another auth process since the last refresh."""
        scheme, _, credential = authorization.partition(" ")
        if scheme != "Bearer" or not credential:
            return
        lookup = self._session_hash(credential)
        if lookup is None or lookup in self._snapshot.sessions:
            return
        found = await self._store.session(lookup)
        # Only into a snapshot no newer than the look-up: one installed during it may be
        # of a generation in which the session was signed out already, and adding it there
        # would bring it back until the next change. A newer snapshot has the session if it
        # still exists; an older one is replaced by the refresher, its generation behind.
        session = found.session
        if session is not None and self._generation <= found.generation:
            self._snapshot.sessions[lookup] = _session_entry(session)
            self._snapshot.session_expiry[str(session.id)] = session.expire_time

    # -- authz.Directory -------------------------------------------------------------

    def identify_token(self, token: str) -> Identity | None:
        entry = self._token_entry(token)
        return entry.identity if entry else None

    def token_allows_origin(self, identity: Identity, origin: str) -> bool:
        entry = self._entry_of(identity)
        return entry is not None and entry.origins.matches(origin)

    def token_allows_ip(self, identity: Identity, ip: str) -> bool:
        entry = self._entry_of(identity)
        if entry is None:
            return False
        return not entry.allowed_ips or networks.ip_allowed(ip, entry.allowed_ips)

    def identify_credentials(self, authorization: str) -> Identity | None:
        scheme, _, credential = authorization.partition(" ")
        if scheme == "TD1":
            try:
                lookup = self._keys.lookup_hash(secrets.parse_api_key(credential.strip()))
            except P13nError:
                return None
            return self._snapshot.api_keys.get(lookup)
        if scheme == "Bearer":
            session_hash = self._session_hash(credential.strip())
            entry = self._snapshot.sessions.get(session_hash) if session_hash else None
            if entry is None or entry.expire_time <= self._clock():
                return None
            return entry.identity
        return None

    def api_key_exists(self, api_key_id: str) -> bool:
        """Whether the API key is in the current snapshot (not deleted)."""
        return api_key_id in self._snapshot.api_key_ids

    def session_valid(self, session_id: str) -> bool:
        """Whether the session is in the current snapshot and has not expired."""
        expire_time = self._snapshot.session_expiry.get(session_id)
        return expire_time is not None and expire_time > self._clock()

    def preflight_allows(self, origin: str, database: str, table: str) -> bool:
        for parent_segment in self._event_tables.get((database, table), ()):
            for matcher in self._snapshot.public_origins.get(parent_segment, ()):
                if matcher.matches(origin):
                    return True
        return False

    def rate_limited(self, identity: Identity | None, ip: str) -> float:
        key = address_key(ip)
        for decision in self._rate_decisions(key, identity):
            if not decision.allowed:
                return decision.retry_after or _LEAST_WAIT
        return 0.0

    def data_credential_failed(self, ip: str) -> float:
        decision = self._failures.check(address_key(ip))
        return 0.0 if decision.allowed else decision.retry_after or _LEAST_WAIT

    def admin_failures_wait(self, ip: str) -> float:
        try:
            self.admin_failures.check_address(address_key(ip))
        except failures.TooManyFailures as refused:
            return refused.retry_after or _LEAST_WAIT
        return 0.0

    def admin_credential_failed(self, ip: str) -> None:
        self.admin_failures.failed(address_key(ip))

    # -- helpers ---------------------------------------------------------------------

    def _rate_decisions(self, key: str, identity: Identity | None) -> Iterator[ratelimit.Decision]:
        """The budgets a data-plane request spends, in order; the first refusal ends it."""
        if identity is None:
            yield self._failures.check(key)
        yield self._addresses.check(key)
        if identity is not None and identity.token_id:
            entry = self._entry_of(identity)
            yield self._tokens.check(identity.token_id, entry.limit if entry else None)

    def _token_entry(self, token: str) -> TokenEntry | None:
        try:
            parsed = secrets.parse_token(token)
        except P13nError:
            return None
        entry = self._snapshot.tokens.get(self._keys.lookup_hash(parsed.secret))
        if entry is None:
            return None
        # The ids in the string only name the token; they must agree with its record.
        identity = entry.identity
        if (parsed.account_id, parsed.reactor_id) != (identity.account_id, identity.reactor_id):
            return None
        return entry

    def _entry_of(self, identity: Identity) -> TokenEntry | None:
        return self._snapshot.tokens_by_id.get(identity.token_id)

    def _session_hash(self, credential: str) -> bytes | None:
        try:
            return self._keys.lookup_hash(secrets.parse_session(credential))
        except P13nError:
            return None


def address_key(ip: str) -> str:
    """The budget key of a client address (an IPv6 client's whole /64, see ``networks``)."""
    address = networks.parse_client_ip(ip)
    return networks.rate_limit_key(address) if address else ip
