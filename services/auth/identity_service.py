"""Signing in, re-authentication, the caller's own view, users and API keys."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from google.protobuf import empty_pb2
from p13n.auth.v1 import account_pb2, identity_pb2, identity_service_pb2, identity_service_pb2_grpc
from typing_extensions import override

from services.auth import failures, passwords, ratelimit, secrets, validation
from services.auth.authz import retry_after_header
from services.auth.directory import API_KEY_TYPES, MemoryDirectory, address_key
from services.auth.messages import ROLE_NAMES
from services.auth.store_protocols import IdentityStore
from services.common import audit
from services.common import identity as identities
from services.common.convert import path_id, timestamp
from services.common.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
)

log = logging.getLogger(__name__)

SESSION_SECONDS = 12 * 3600
# Ten tries at once, then one a minute, per session.
REAUTH_LIMIT = ratelimit.Limit(rate=1 / 60, burst=10)
HASHING_CONCURRENCY = 4
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BAD_LOGIN = "Email or password is incorrect"
# What a refused password attempt says, by whose budget it spent (services/auth/failures.py).
_SIGN_IN_REFUSALS = {
    failures.Scope.ADDRESS: "Too many sign-in attempts from this address; retry later",
    failures.Scope.ACCOUNT: (
        "Too many failed sign-in attempts for this account from this address; retry after the "
        "seconds in Retry-After, or sign in from another network"
    ),
}
_REAUTHENTICATION_REFUSALS = {
    failures.Scope.ADDRESS: (
        "Too many failed passwords from this address; retry after the seconds in Retry-After"
    ),
    failures.Scope.ACCOUNT: (
        "Too many failed re-authentications for this user from this address; retry after the "
        "seconds in Retry-After"
    ),
}


def client_address(context: Any) -> str:
    """The address a password attempt comes from, as its failure budgets key it.

    Through the gateway, the one ext_authz saw (carried in the signed identity); on a direct
    call to this port, the connection's peer.
    """
    identity = identities.current.get()
    ip = identity.client_ip if identity is not None and identity.client_ip else ""
    return address_key(ip or _peer_ip(context.peer()))


def _peer_ip(peer: str) -> str:
    """The IP address in a gRPC peer string such as ``ipv4:1.2.3.4:5`` or ``ipv6:[::1]:5``."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return peer
    return rest.rsplit(":", 1)[0].strip("[]")


async def _too_many(context: Any, seconds: float, message: str, reason: str) -> ResourceExhausted:
    """The 429 of a spent budget, its ``Retry-After`` sent ahead as initial metadata.

    The gateway's transcoder turns initial metadata into headers of the HTTP answer; a gRPC
    caller reads it from the call's initial metadata.
    """
    await context.send_initial_metadata((("retry-after", retry_after_header(seconds)),))
    return ResourceExhausted(message, reason=reason)


def caller() -> identity_pb2.Identity:
    """The verified identity of the current call (the interceptor guarantees one)."""
    identity = identities.current.get()
    if identity is None:
        raise Unauthenticated("Credentials are required")
    return identity


class IdentityServicer(identity_service_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self,
        store: IdentityStore,
        directory: MemoryDirectory,
        keys: secrets.SecretKeys,
        hasher: passwords.Passwords,
    ) -> None:
        self._store = store
        self._directory = directory
        self._keys = keys
        self._passwords = hasher
        # Guesses of a session's password (a stolen session token would otherwise try
        # without limit until the re-authentication that reveals secrets succeeds).
        self._reauth_attempts = ratelimit.RateLimiter(REAUTH_LIMIT)
        # argon2 takes ~0.1 s and 64 MiB: off the event loop (ext_authz shares it), and
        # a few at a time, so a flood of sign-ins can neither stall decisions nor eat memory.
        self._hashing = asyncio.Semaphore(HASHING_CONCURRENCY)

    async def _verify(self, stored_hash: str | None, password: str) -> bool:
        async with self._hashing:
            return await asyncio.to_thread(self._passwords.verify, stored_hash, password)

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(self._passwords.hash, password)

    async def _begin_password(
        self, context: Any, account: str, refusals: dict[failures.Scope, str]
    ) -> failures.PasswordAttempt:
        """Charges a password attempt, or refuses it with 429 and ``Retry-After``."""
        budgets = self._directory.admin_failures
        try:
            return await budgets.begin_password(client_address(context), account)
        except failures.TooManyFailures as refused:
            raise await _too_many(
                context, refused.retry_after, refusals[refused.scope], "TOO_MANY_FAILED_PASSWORDS"
            ) from None

    @override
    async def CreateSession(
        self, request: identity_service_pb2.CreateSessionRequest, context: Any
    ) -> identity_service_pb2.CreateSessionResponse:
        email = request.email.strip().lower()
        # Unknown emails have budgets too, so a refusal tells nothing about who exists.
        attempt = await self._begin_password(context, f"email:{email}", _SIGN_IN_REFUSALS)
        user = await self._store.login(email)
        stored = user.password_hash if user else None
        # verify() spends the same time for an unknown email, so timing tells nothing.
        if not await self._verify(stored, request.password) or user is None:
            raise Unauthenticated(_BAD_LOGIN, reason="BAD_CREDENTIALS")
        await attempt.succeeded()
        secret = secrets.generate_secret(secrets.SecretKind.SESSION)
        now = time.time()
        await self._store.create_session(
            user.user_id, self._keys.lookup_hash(secret), now + SESSION_SECONDS, now
        )
        await self._directory.reload()
        log.info("user %s signed in", user.user_id)
        return identity_service_pb2.CreateSessionResponse(
            session_token=secret.reveal(), expires_at=timestamp(now + SESSION_SECONDS)
        )

    @override
    async def ReauthenticateSession(
        self, request: identity_service_pb2.ReauthenticateSessionRequest, context: Any
    ) -> identity_service_pb2.ReauthenticateSessionResponse:
        me = caller()
        if not me.session_id:
            raise Unauthenticated(
                "Re-authentication needs a session (Authorization: Bearer …)", reason="NO_SESSION"
            )
        by_session = self._reauth_attempts.check(me.session_id)
        if not by_session.allowed:
            raise await _too_many(
                context,
                by_session.retry_after,
                "Too many re-authentication attempts for this session; wait a minute or sign in "
                "again",
                "REAUTHENTICATION_RATE_LIMITED",
            )
        attempt = await self._begin_password(
            context, f"user:{me.user_id}", _REAUTHENTICATION_REFUSALS
        )
        stored = await self._store.password_hash(int(me.user_id))
        if stored is None or not await self._verify(stored, request.password):
            raise Unauthenticated("Password is incorrect", reason="BAD_CREDENTIALS")
        await attempt.succeeded()
        now = time.time()
        await self._store.mark_authenticated(int(me.session_id), now)
        log.info("user %s re-authenticated session %s", me.user_id, me.session_id)
        window = validation.REAUTHENTICATION_WINDOW.total_seconds()
        return identity_service_pb2.ReauthenticateSessionResponse(
            reauthenticated_until=timestamp(now + window)
        )

    @override
    async def GetMe(
        self, request: identity_service_pb2.GetMeRequest, context: Any
    ) -> identity_service_pb2.Me:
        me = caller()
        mine = await self._store.me(int(me.account_id), int(me.user_id or 0))
        return identity_service_pb2.Me(
            account_id=me.account_id,
            user_id=me.user_id,
            email=mine.email or "",
            role=me.role,
            api_key_type=me.api_key_type,
            flags=mine.flags,
        )

    @override
    async def CreateUser(
        self, request: identity_service_pb2.CreateUserRequest, context: Any
    ) -> account_pb2.User:
        me = caller()
        user = request.user
        email = user.email.strip().lower()
        if not _EMAIL.match(email):
            raise InvalidArgument(
                "Email is invalid: expected name@domain.example", field="user.email"
            )
        if user.role not in ROLE_NAMES:
            raise InvalidArgument(
                "Role can't be blank (VIEWER, EDITOR, ADMIN or OWNER)", field="user.role"
            )
        validation.require_can_grant(ROLE_NAMES.get(me.role), ROLE_NAMES[user.role])
        passwords.check_password_policy(user.password, email=email)
        password_hash = await self._hash(user.password)
        now = time.time()

        def created(user_id: int) -> account_pb2.User:
            return account_pb2.User(
                id=str(user_id), email=email, role=user.role, create_time=timestamp(now)
            )

        user_id = await self._store.create_user(
            int(me.account_id),
            email,
            password_hash,
            ROLE_NAMES[user.role].value,
            now,
            lambda user_id: audit.change(
                audit.CREATE, "user", str(user_id), None, created(user_id)
            ),
        )
        if user_id is None:
            raise AlreadyExists("Email has already been taken", reason="EMAIL_TAKEN")
        log.info("user %s created with role %s", user_id, ROLE_NAMES[user.role].value)
        return created(user_id)

    @override
    async def CreateApiKey(
        self, request: identity_service_pb2.CreateApiKeyRequest, context: Any
    ) -> account_pb2.ApiKey:
        me = caller()
        names = {v: k for k, v in API_KEY_TYPES.items()}
        key_type = names.get(request.api_key.type)
        if key_type is None:
            raise InvalidArgument(
                "Type can't be blank (MASTER or WRITE_ONLY)", field="api_key.type"
            )
        kind = (
            secrets.SecretKind.MASTER_KEY
            if key_type == "MASTER"
            else secrets.SecretKind.WRITE_ONLY_KEY
        )
        secret = secrets.generate_secret(kind)
        now = time.time()
        key_id = await self._store.create_api_key(
            int(me.account_id),
            key_type,
            self._keys.lookup_hash(secret),
            now,
            lambda key_id: audit.change(
                audit.CREATE,
                "api_key",
                str(key_id),
                None,
                account_pb2.ApiKey(
                    id=str(key_id), type=request.api_key.type, create_time=timestamp(now)
                ),
            ),
        )
        await self._directory.reload()
        log.info("%s API key %s created in account %s", key_type, key_id, me.account_id)
        return account_pb2.ApiKey(
            id=str(key_id),
            type=request.api_key.type,
            key=secret.reveal(),
            create_time=timestamp(now),
        )

    @override
    async def DeleteApiKey(
        self, request: identity_service_pb2.DeleteApiKeyRequest, context: Any
    ) -> empty_pb2.Empty:
        me = caller()
        deleted = await self._store.delete_api_key(
            int(me.account_id),
            path_id(request.api_key_id),
            lambda key_id: audit.change(
                audit.DELETE, "api_key", str(key_id), {"id": str(key_id)}, None
            ),
        )
        if not deleted:
            raise NotFound(f"API key {request.api_key_id!r} not found")
        await self._directory.reload()
        return empty_pb2.Empty()

    @override
    async def DeleteSession(
        self, request: identity_service_pb2.DeleteSessionRequest, context: Any
    ) -> empty_pb2.Empty:
        me = caller()
        if not me.session_id:
            raise Unauthenticated(
                "Signing out needs a session (Authorization: Bearer …); an API key has none",
                reason="NO_SESSION",
            )
        await self._store.delete_session(int(me.session_id))
        # This process refuses the token at once; the others at their next poll (0.25 s).
        await self._directory.reload()
        log.info("user %s signed out of session %s", me.user_id, me.session_id)
        return empty_pb2.Empty()
