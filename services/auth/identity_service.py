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

from services.auth import passwords, ratelimit, secrets, validation
from services.auth.directory import API_KEY_TYPES, MemoryDirectory
from services.auth.messages import ROLE_NAMES
from services.auth.store_protocols import IdentityStore
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

    @override
    async def CreateSession(
        self, request: identity_service_pb2.CreateSessionRequest, context: Any
    ) -> identity_service_pb2.CreateSessionResponse:
        user = await self._store.login(request.email.strip().lower())
        stored = user.password_hash if user else None
        # verify() spends the same time for an unknown email, so timing tells nothing.
        if not await self._verify(stored, request.password) or user is None:
            raise Unauthenticated(_BAD_LOGIN, reason="BAD_CREDENTIALS")
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
        if not self._reauth_attempts.check(me.session_id).allowed:
            raise ResourceExhausted(
                "Too many re-authentication attempts for this session; wait a minute or sign in "
                "again",
                reason="REAUTHENTICATION_RATE_LIMITED",
            )
        stored = await self._store.password_hash(int(me.user_id))
        if stored is None or not await self._verify(stored, request.password):
            raise Unauthenticated("Password is incorrect", reason="BAD_CREDENTIALS")
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
        user_id = await self._store.create_user(
            int(me.account_id), email, password_hash, ROLE_NAMES[user.role].value, now
        )
        if user_id is None:
            raise AlreadyExists("Email has already been taken", reason="EMAIL_TAKEN")
        log.info("user %s created with role %s", user_id, ROLE_NAMES[user.role].value)
        return account_pb2.User(
            id=str(user_id), email=email, role=user.role, create_time=timestamp(now)
        )

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
            int(me.account_id), key_type, self._keys.lookup_hash(secret), now
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
        if not await self._store.delete_api_key(int(me.account_id), path_id(request.api_key_id)):
            raise NotFound(f"API key {request.api_key_id!r} not found")
        await self._directory.reload()
        return empty_pb2.Empty()
