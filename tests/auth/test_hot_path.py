"""The gateway's decisions read no database: every credential is served from memory.

The auth service's directory and servicers are built on a real store; once the directory
is loaded the store is armed as a tripwire, and every kind of data-plane decision (and an
admin decision with an API key) is asked of the real ``Check``. A database access would
trip it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import pytest
from envoy.service.auth.v3 import external_auth_pb2
from p13n.auth.v1 import account_pb2, identity_pb2, identity_service_pb2, registry_service_pb2
from p13n.auth.v1 import personalization_service_pb2 as pb

from services.auth import operator, passwords, secrets
from services.auth.backends import SqliteBackend
from services.auth.directory import MemoryDirectory
from services.auth.ext_authz import AuthorizationServicer
from services.auth.identity_service import IdentityServicer
from services.auth.registry_service import RegistryServicer
from services.auth.store import MIGRATIONS, SqlAuthStore, database_path
from services.auth.store import open_store as open_auth_store
from services.auth.validation import FLAG_PUBLIC_SERVICES
from services.common import identity as identities
from services.common.storage import Database, open_database

SECRET_KEY = bytes(range(32))
INTERNAL_KEY = bytes(range(1, 33))
ORIGIN = "https://shop.example"


class Tripwire(Database):
    """A store that counts (and, once armed, refuses) every access."""

    armed = False
    touched = 0

    def _touch(self) -> None:
        if self.armed:
            self.touched += 1
            raise AssertionError("the decision touched the database")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        self._touch()
        async with super().transaction() as db:
            yield db

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        self._touch()
        async with super().reading() as db:
            yield db


@dataclass
class Loaded:
    store: Tripwire
    check: AuthorizationServicer
    public: str
    private: str
    master: str
    write_only: str


@contextlib.contextmanager
def acting_as(identity: identity_pb2.Identity) -> Iterator[None]:
    reset = identities.current.set(identity)
    try:
        yield
    finally:
        identities.current.reset(reset)


@pytest.fixture
async def loaded(tmp_path: Path) -> AsyncIterator[Loaded]:
    # The database made as the auth service makes it at start: the operator writes only there.
    await (await open_auth_store(tmp_path)).close()
    boot = await operator.bootstrap(
        tmp_path,
        SECRET_KEY,
        email="owner@shop.example",
        password="correct horse battery staple",
        account="Shop",
    )
    await operator.set_flag(tmp_path, boot["account_id"], FLAG_PUBLIC_SERVICES, True)
    # The tripwire sits under the SQLite store, so every query of every part trips it.
    store = Tripwire(await open_database(database_path(tmp_path), MIGRATIONS))
    auth_store = SqlAuthStore(SqliteBackend(store))
    keys = secrets.SecretKeys(SECRET_KEY)
    directory = MemoryDirectory(auth_store, keys)
    await directory.reload()

    async def reactor_of(_parent_segment_id: str) -> str:
        return "r1"

    registry = RegistryServicer(auth_store, directory, keys, reactor_of)
    people = IdentityServicer(auth_store, directory, keys, passwords.Passwords())
    owner = identity_pb2.Identity(account_id=boot["account_id"], role=identity_pb2.OWNER)
    with acting_as(owner):
        tokens = {}
        for name, kind in (("Web", pb.PUBLIC), ("Backend", pb.PRIVATE)):
            service = await registry.CreateService(
                registry_service_pb2.CreateServiceRequest(
                    parent_segment_id="ps1",
                    service=pb.PersonalizationService(
                        name=name,
                        type=kind,
                        allowed_origins=[ORIGIN] if kind == pb.PUBLIC else [],
                    ),
                ),
                None,
            )
            token = await registry.CreateToken(
                registry_service_pb2.CreateTokenRequest(
                    parent_segment_id="ps1", service_id=service.id, token=pb.Token(name="t")
                ),
                None,
            )
            tokens[name] = token.token
        write_only = await people.CreateApiKey(
            identity_service_pb2.CreateApiKeyRequest(
                api_key=account_pb2.ApiKey(type=identity_pb2.WRITE_ONLY)
            ),
            None,
        )
    store.armed = True
    try:
        yield Loaded(
            store,
            AuthorizationServicer(directory, INTERNAL_KEY),
            tokens["Web"],
            tokens["Backend"],
            boot["api_key"],
            write_only.key,
        )
    finally:
        store.armed = False
        await store.close()


def _request(
    listener: str, path: str, headers: dict[str, str], method: str = "POST"
) -> external_auth_pb2.CheckRequest:
    request = external_auth_pb2.CheckRequest()
    request.attributes.context_extensions["listener"] = listener
    request.attributes.source.address.socket_address.address = "192.0.2.7"
    http = request.attributes.request.http
    http.method, http.path = method, path
    http.headers.update({"content-type": "application/json", **headers})
    return request


@pytest.mark.parametrize(
    ("listener", "path", "headers", "status"),
    [
        pytest.param(
            "data", "/public/shop_db/events", {"wp13n-token": "{public}", "origin": ORIGIN}, 200,
            id="public-token",
        ),
        pytest.param(
            "data", "/public/shop_db/events",
            {"wp13n-token": "{public}", "origin": ORIGIN, "authorization": "TD1 {write_only}"},
            200, id="public-token-with-write-only-key",
        ),
        pytest.param(
            "data", "/public/shop_db/events",
            {"wp13n-token": "{public}", "origin": ORIGIN, "authorization": "Bearer {session}"},
            401, id="public-token-with-a-session",
        ),
        pytest.param(
            "data", "/public/shop_db/events", {"wp13n-token": "{public}", "origin": "https://x.example"},
            403, id="origin-refused",
        ),
        pytest.param(
            "data", "/public/shop_db/events", {"wp13n-token": "{private}", "origin": ORIGIN}, 403,
            id="private-token-on-public-path",
        ),
        pytest.param("data", "/shop_db/events", {"wp13n-token": "{private}"}, 200, id="private-token"),
        pytest.param(
            "data", "/shop_db/events", {"wp13n-token": "{public}x"}, 401, id="malformed-token"
        ),
        pytest.param(
            "data", "/records/shop_db/events", {"authorization": "TD1 {write_only}"}, 200,
            id="ingest-key",
        ),
        pytest.param("admin", "/v1/me", {"authorization": "TD1 {master}"}, 200, id="admin-key"),
    ],
)  # fmt: skip
async def test_decisions_read_no_database(
    loaded: Loaded, listener: str, path: str, headers: dict[str, str], status: int
) -> None:
    values = {
        "public": loaded.public,
        "private": loaded.private,
        "master": loaded.master,
        "write_only": loaded.write_only,
        # Well formed and unknown: the admin listener would look for it in the store.
        "session": secrets.generate_secret(secrets.SecretKind.SESSION).reveal(),
    }
    filled = {name: value.format(**values) for name, value in headers.items()}
    reply = await loaded.check.Check(_request(listener, path, filled), None)
    decided = reply.denied_response.status.code if reply.HasField("denied_response") else 200
    assert decided == status
    assert loaded.store.touched == 0


async def test_the_tripwire_does_trip(loaded: Loaded) -> None:
    """The checks above would notice a database access."""
    with pytest.raises(AssertionError, match="touched the database"):
        async with loaded.store.reading():
            pass
    assert loaded.store.touched == 1
