"""The profile service's questions to the auth service: an account's feature flags, and
whether the credential that opened a running import stream still exists.

Which attribute and segment settings an account may use (sensitivity, for one) depends on
its flags. They change rarely and are asked on every such write, so answers are kept for a
short while;
when the auth service cannot answer, the write is refused as UNAVAILABLE rather than
checked against flags that may be wrong.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from p13n.auth.v1 import identity_pb2, internal_service_pb2

from services.common.callers import PROFILE
from services.common.clients import as_service
from services.common.remote_errors import translate, unavailable

# Signed as the component its certificate names.
SERVICE = PROFILE
FLAGS_TTL_SECONDS = 2.0
# A deleted identity secret stops making valid proofs within this long.
SECRETS_TTL_SECONDS = 2.0
FLAGS_TIMEOUT = 2.0
CHECK_TIMEOUT = 1.0
_AUTH_DOWN = unavailable("The auth service cannot answer; retry shortly")
T = TypeVar("T")


class AuthClient:
    """The auth service as the profile service uses it (``stub``: ``InternalAuthServiceStub``)."""

    def __init__(self, stub: Any, key: bytes, clock: Callable[[], float] = time.monotonic) -> None:
        self._stub = stub
        self._key = key
        self._clock = clock
        self._flags: dict[str, tuple[float, frozenset[str]]] = {}
        self._secrets: dict[str, tuple[float, tuple[str, ...]]] = {}

    def __repr__(self) -> str:
        return "AuthClient(<secrets hidden>)"

    async def identity_secrets(self, service_id: str) -> tuple[str, ...]:
        """A public service's identity secrets, at most ``SECRETS_TTL_SECONDS`` old.

        When the auth service cannot answer, this raises UNAVAILABLE: a proof that cannot be
        checked is neither accepted nor silently dropped.
        """

        async def ask() -> tuple[str, ...]:
            request = internal_service_pb2.GetIdentitySecretsRequest(service_id=service_id)
            return tuple((await self._ask(self._stub.GetIdentitySecrets, request)).secrets)

        return await self._fresh(self._secrets, service_id, SECRETS_TTL_SECONDS, ask)

    async def flags_of(self, account_id: str) -> frozenset[str]:
        """The account's feature flags, at most ``FLAGS_TTL_SECONDS`` old."""

        async def ask() -> frozenset[str]:
            request = internal_service_pb2.GetAccountFlagsRequest(account_id=account_id)
            return frozenset((await self._ask(self._stub.GetAccountFlags, request)).flags)

        return await self._fresh(self._flags, account_id, FLAGS_TTL_SECONDS, ask)

    async def _fresh(
        self,
        cache: dict[str, tuple[float, T]],
        key: str,
        ttl: float,
        ask: Callable[[], Awaitable[T]],
    ) -> T:
        """``cache[key]`` while younger than ``ttl`` seconds, else a new answer kept."""
        cached = cache.get(key)
        if cached and self._clock() - cached[0] < ttl:
            return cached[1]
        answer = await ask()
        cache[key] = (self._clock(), answer)
        return answer

    async def _ask(self, method: Any, request: Any) -> Any:
        try:
            return await method(
                request, metadata=as_service(SERVICE, self._key), timeout=FLAGS_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            # An outage refuses the write; any other answer to this internal question is a
            # fault here, logged as INTERNAL rather than hidden as a retry.
            raise translate(error, outage=_AUTH_DOWN, verdicts={}) from None

    async def credential_valid(self, identity: identity_pb2.Identity) -> bool:
        """Whether the API key or session ``identity`` names still exists (never kept).

        An identity naming neither (a service's own call) has nothing to check. When the
        auth service cannot answer, this raises UNAVAILABLE: the caller refuses.
        """
        if identity.api_key_id:
            request = internal_service_pb2.CheckCredentialRequest(api_key_id=identity.api_key_id)
        elif identity.session_id:
            request = internal_service_pb2.CheckCredentialRequest(session_id=identity.session_id)
        else:
            return True
        try:
            reply = await self._stub.CheckCredential(
                request, metadata=as_service(SERVICE, self._key), timeout=CHECK_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            raise translate(error, outage=_AUTH_DOWN, verdicts={}) from None
        return bool(reply.valid)
