"""Two auth replicas on one PostgreSQL schema: a change made through one is served by the other.

Each replica is the production ``lifespan`` (its own pool, directory, refresher, listener and
gRPC server); both are given the same ``P13N_DATABASE_URL``, schema prefix and keys. A token
is created and deleted through replica A's registry API (as the gateway forwards an owner's
call) and replica B's ext_authz decision is polled until it follows: within 1 s, whether B
hears the notification, loses its listening connection, or only polls.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from p13n.auth.v1 import (
    account_pb2,
    identity_pb2,
    identity_service_pb2,
    identity_service_pb2_grpc,
    registry_service_pb2,
    registry_service_pb2_grpc,
)
from p13n.auth.v1 import personalization_service_pb2 as pb
from support.listening import HeldReconnects, terminate_listeners
from support.tls import aio_channel

from services.auth import backends, directory, failures, secrets, server
from services.auth.store import open_store
from services.auth.store_protocols import Bootstrapped, ServiceDraft
from services.common import identity, pki
from services.common.callers import AUTH, GATEWAY
from services.common.config import Settings

INTERNAL_KEY = os.urandom(32)
# A change must be served by every replica within this (issue 14).
PROPAGATION_BOUND = 1.0


@dataclass
class Replica:
    authz: external_auth_pb2_grpc.AuthorizationStub
    registry: registry_service_pb2_grpc.RegistryServiceStub
    identity: identity_service_pb2_grpc.IdentityServiceStub

    async def admits(self, api_key: str) -> bool:
        """Whether ext_authz lets an admin-listener request with ``api_key`` through."""
        return await self.admin_decides(api_key, "192.0.2.8") == 200

    async def admin_decides(self, api_key: str, address: str) -> int:
        """The HTTP status ext_authz answers for an admin request with ``api_key``."""
        request = external_auth_pb2.CheckRequest()
        request.attributes.context_extensions["listener"] = "admin"
        request.attributes.source.address.socket_address.address = address
        http = request.attributes.request.http
        http.method, http.path = "GET", "/v1/me"
        http.headers.update({"authorization": f"TD1 {api_key}"})
        reply = await self.authz.Check(request, timeout=5)
        return reply.denied_response.status.code if reply.HasField("denied_response") else 200

    async def decides(self, token: str) -> int:
        """The HTTP status ext_authz answers for a private-path request with ``token``."""
        request = external_auth_pb2.CheckRequest()
        request.attributes.context_extensions["listener"] = "data"
        request.attributes.source.address.socket_address.address = "192.0.2.7"
        http = request.attributes.request.http
        http.method, http.path = "POST", "/shop_db/events"
        http.headers.update({"content-type": "application/json", "wp13n-token": token})
        reply = await self.authz.Check(request, timeout=5)
        return reply.denied_response.status.code if reply.HasField("denied_response") else 200


@dataclass
class Pair:
    a: Replica
    b: Replica
    owner: tuple[tuple[str, str], ...]  # the signed identity the gateway forwards
    service_id: str

    async def create_token(self, name: str) -> pb.Token:
        created: pb.Token = await self.a.registry.CreateToken(
            registry_service_pb2.CreateTokenRequest(
                parent_segment_id="1", service_id=self.service_id, token=pb.Token(name=name)
            ),
            metadata=self.owner,
            timeout=5,
        )
        return created

    async def delete_token(self, token: pb.Token) -> None:
        await self.a.registry.DeleteToken(
            registry_service_pb2.DeleteTokenRequest(
                parent_segment_id="1", service_id=self.service_id, token_id=token.id
            ),
            metadata=self.owner,
            timeout=5,
        )


async def seconds_until(check: Callable[[], Awaitable[bool]], bound: float = 5.0) -> float:
    """Polls ``check`` until it is true; how long that took (fails after ``bound``)."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < bound, f"not within {bound} s"
    return time.monotonic() - started


def _settings(data_dir: Path, env: dict[str, str]) -> Settings:
    return Settings.from_env(
        {
            "P13N_DATA_DIR": str(data_dir),
            "P13N_INTERNAL_KEY": INTERNAL_KEY.hex(),
            "P13N_SECRET_KEY": bytes(range(32)).hex(),
            "P13N_SHUTDOWN_GRACE": "0",
            # Profile and offers are nobody: the registry calls below need neither.
            "P13N_PROFILE_TARGET": "127.0.0.1:9",
            "P13N_OFFERS_TARGET": "127.0.0.1:9",
            **env,
        }
    )


async def _account_and_service(settings: Settings, rate: tuple[int, int]) -> tuple[int, int]:
    """An account and a private service limited to ``rate`` (per second, burst; 0: the
    default), written as the operator would (no profile needed)."""
    store = await open_store(settings)
    try:
        created = await store.bootstrap_account("Shop", "o@shop.example", "h", b"master", 0.0)
        assert isinstance(created, Bootstrapped)
        async with store.registry_writing() as writer:
            service = await writer.insert_service(
                created.account_id, ServiceDraft("1", "r1", "Backend", "", "PRIVATE", [], *rate), 0
            )
    finally:
        await store.close()
    return created.account_id, service.id


@contextlib.asynccontextmanager
async def _replica(settings: Settings) -> AsyncIterator[Replica]:
    async with (
        server.lifespan(settings, port=0) as running,
        aio_channel(settings.pki_dir, GATEWAY, running.port, AUTH) as channel,
    ):
        yield Replica(
            external_auth_pb2_grpc.AuthorizationStub(channel),
            registry_service_pb2_grpc.RegistryServiceStub(channel),
            identity_service_pb2_grpc.IdentityServiceStub(channel),
        )


@contextlib.asynccontextmanager
async def two_replicas(
    tmp_path: Path, env: dict[str, str], rate: tuple[int, int] = (0, 0)
) -> AsyncIterator[Pair]:
    pki.ensure(tmp_path / "pki")
    settings = _settings(tmp_path, env)
    account_id, service_id = await _account_and_service(settings, rate)
    owner = identity_pb2.Identity(account_id=str(account_id), role=identity_pb2.OWNER)
    signed = ((identity.IDENTITY_HEADER, identity.sign(owner, INTERNAL_KEY)),)
    async with _replica(settings) as a, _replica(settings) as b:
        yield Pair(a, b, signed, str(service_id))


async def _served_both_ways(pair: Pair) -> tuple[float, float]:
    """Seconds until B accepts a token created through A, then refuses it once deleted.

    Refused is any denial: polling with an unknown token spends the address's failure
    budget, after which B answers 429 rather than 401 (a valid token is never refused so).
    """
    token = await pair.create_token("t")
    assert await pair.a.decides(token.token) == 200  # A reloads at once after its own change
    created = await seconds_until(lambda: _accepts(pair.b, token.token))
    await pair.delete_token(token)
    assert await pair.a.decides(token.token) == 401
    deleted = await seconds_until(lambda: _refuses(pair.b, token.token))
    return created, deleted


async def _accepts(replica: Replica, token: str) -> bool:
    return await replica.decides(token) == 200


async def _refuses(replica: Replica, token: str) -> bool:
    return not await _accepts(replica, token)


async def test_a_token_created_or_deleted_through_one_replica_is_followed_by_the_other(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async with two_replicas(tmp_path, postgres_env) as pair:
        for _ in range(3):
            created, deleted = await _served_both_ways(pair)
            assert created < PROPAGATION_BOUND
            assert deleted < PROPAGATION_BOUND


async def test_an_api_key_deleted_through_one_replica_is_refused_by_the_other_within_a_second(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async with two_replicas(tmp_path, postgres_env) as pair:
        key = await pair.a.identity.CreateApiKey(
            identity_service_pb2.CreateApiKeyRequest(
                api_key=account_pb2.ApiKey(type=identity_pb2.MASTER)
            ),
            metadata=pair.owner,
            timeout=5,
        )
        # B looks an admin key it does not know up in the store before refusing it.
        assert await pair.b.admits(key.key)
        await pair.a.identity.DeleteApiKey(
            identity_service_pb2.DeleteApiKeyRequest(api_key_id=key.id),
            metadata=pair.owner,
            timeout=5,
        )
        assert not await pair.a.admits(key.key)
        revoked = await seconds_until(lambda: _not(pair.b.admits(key.key)))
    assert revoked < PROPAGATION_BOUND


async def _not(admitted: Awaitable[bool]) -> bool:
    return not await admitted


async def test_admin_failures_through_one_replica_spend_the_budget_of_both(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """The admin listener's failure budget is one for all replicas (kept in PostgreSQL).

    B is asked with a valid key, which spends nothing: B refuses it (429, as every check from
    a spent address) only by what it learns of A's failures.
    """
    wrong = secrets.generate_secret(secrets.SecretKind.MASTER_KEY).reveal()
    async with two_replicas(tmp_path, postgres_env) as pair:
        valid = await _master_key(pair)
        assert await pair.b.admin_decides(valid, "198.51.100.7") == 200
        for _ in range(failures.ADDRESS_FAILURES.burst):
            assert await pair.a.admin_decides(wrong, "198.51.100.7") == 401
        assert await pair.a.admin_decides(wrong, "198.51.100.7") == 429
        spent = await seconds_until(
            lambda: _status_is(pair.b.admin_decides(valid, "198.51.100.7"), 429)
        )
        assert await pair.b.admin_decides(valid, "198.51.100.8") == 200  # another address
    assert spent < PROPAGATION_BOUND


async def _master_key(pair: Pair) -> str:
    created: account_pb2.ApiKey = await pair.a.identity.CreateApiKey(
        identity_service_pb2.CreateApiKeyRequest(
            api_key=account_pb2.ApiKey(type=identity_pb2.MASTER)
        ),
        metadata=pair.owner,
        timeout=5,
    )
    return created.key


async def _status_is(decided: Awaitable[int], status: int) -> bool:
    return await decided == status


async def test_the_notification_alone_carries_a_change(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A poll every 30 s cannot make the bound: only the notification can.
    monkeypatch.setattr(directory, "REFRESH_SECONDS", 30.0)
    async with two_replicas(tmp_path, postgres_env) as pair:
        created, deleted = await _served_both_ways(pair)
    assert created < PROPAGATION_BOUND
    assert deleted < PROPAGATION_BOUND


async def _listening_sessions(url: str, count: int) -> int:
    """Waits until ``count`` sessions listen for credential changes, then ends them."""
    admin = await asyncpg.connect(url)
    try:
        # Each replica's refresher starts listening in the background, once serving.
        await seconds_until(
            lambda: _has(
                admin,
                "SELECT count(*) = $1 FROM pg_stat_activity WHERE datname = current_database()"
                f" AND query = 'LISTEN \"{backends.CHANNEL}\"'",
                count,
            )
        )
    finally:
        await admin.close()
    return await terminate_listeners(url, backends.CHANNEL)


async def test_a_missed_notification_is_caught_by_the_poll(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listening sessions ended and kept from reconnecting: the changes happen while no
    replica listens, and B follows them by its generation poll alone, within 1 s."""
    held = HeldReconnects(monkeypatch)
    async with two_replicas(tmp_path, postgres_env) as pair:
        assert await _listening_sessions(postgres_env["P13N_DATABASE_URL"], 2) == 2
        await held.until_waiting(2)
        created, deleted = await _served_both_ways(pair)
        held.release()
    assert created < PROPAGATION_BOUND
    assert deleted < PROPAGATION_BOUND


async def test_a_reconnected_listener_reports_what_it_may_have_missed(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token is created while no replica listens (sessions ended, reconnects held back);
    with no poll to speak of, what makes B follow once it reconnects is the reconnect's
    report that it may have missed a change."""
    monkeypatch.setattr(directory, "REFRESH_SECONDS", 30.0)
    held = HeldReconnects(monkeypatch)
    async with two_replicas(tmp_path, postgres_env) as pair:
        assert await _listening_sessions(postgres_env["P13N_DATABASE_URL"], 2) == 2
        await held.until_waiting(2)
        token = await pair.create_token("t")
        assert await pair.a.decides(token.token) == 200  # A reloads after its own change
        assert await pair.b.decides(token.token) == 401  # B missed the notification
        held.release()
        followed = await seconds_until(lambda: _accepts(pair.b, token.token))
    assert followed < PROPAGATION_BOUND


async def test_replicas_split_a_tokens_rate_limit_so_together_they_allow_it_once(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """The meaning of a limit with N replicas: each applies 1/N of it (P13N_AUTH_REPLICAS).

    A service limited to a burst of 8 (and 1 a second, so nothing refills meanwhile) is
    served 4 requests by each of two replicas, 8 in all, then refused by both.
    """
    env = {**postgres_env, "P13N_AUTH_REPLICAS": "2"}
    async with two_replicas(tmp_path, env, rate=(1, 8)) as pair:
        token = (await pair.create_token("t")).token
        await seconds_until(lambda: _accepts(pair.b, token))  # B knows it (one request spent)
        served = {"a": 0, "b": 1}
        for _ in range(10):
            for name, replica in (("a", pair.a), ("b", pair.b)):
                if await replica.decides(token) == 200:
                    served[name] += 1
        assert served == {"a": 4, "b": 4}
        assert await pair.a.decides(token) == 429
        assert await pair.b.decides(token) == 429


async def _has(conn: asyncpg.Connection, query: str, *args: object) -> bool:
    found: bool = await conn.fetchval(query, *args)
    return found
