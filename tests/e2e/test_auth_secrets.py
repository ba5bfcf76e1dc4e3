"""Secrets at rest, in logs and over their lifetime: dump, reveal, deletion, two processes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support import stored
from support.admin import PASSWORD, Account
from support.auth import SHOP, User, add_user, api_key, passed_auth, personalize
from support.http import Response
from support.ports import free_port
from support.suite import Suite
from support.tls import component_channel

from services.auth.store import database_path
from services.common.sql import Sql

pytestmark = pytest.mark.both_backends

PUBLIC_PATH = "/public/shop_db/page_views"
PRIVATE_PATH = "/shop_db/page_views"
REAUTHENTICATION_REQUIRED = "Re-authentication required"
WITHIN = 5.0  # docs/design.md#tokens: a deletion takes effect on the data path within 5 seconds


@dataclass(frozen=True)
class Setup:
    account: Account
    ps: str
    public_service: str
    private_service: str

    @property
    def services(self) -> str:
        return f"/v1/parent_segments/{self.ps}/services"

    def tokens(self, service: str) -> str:
        return f"{self.services}/{service}/tokens"

    def create_token(self, service: str, name: str) -> dict[str, str]:
        created: dict[str, str] = self.account.ok("POST", self.tokens(service), {"name": name})
        return created


@pytest.fixture(scope="module")
def setup(account: Account) -> Setup:
    ps = account.parent_segment("Secrets")
    account.event(ps, "page_view", "shop_db", "page_views")
    public = account.service(ps, "Web", "PUBLIC", ["https://*.shop.example"])
    private = account.service(ps, "Backend", "PRIVATE")
    return Setup(account, ps, public, private)


def _secret_forms(secret: str) -> list[str]:
    """The ways a secret could sit in a dump: as is, its random part, hex of either."""
    forms = [secret]
    last = secret.rsplit("/", 1)[-1]  # the secret part of a full token string
    forms.append(last)
    if last.startswith("p13n_"):
        forms.append(last.split("_", 2)[2])  # without the type prefix
    forms += [f.encode().hex() for f in list(forms)]
    return forms


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    lowered = text.lower()
    return [
        name
        for name, secret in secrets.items()
        for form in _secret_forms(secret)
        if form in text or form.lower() in lowered
    ]


def _wait_until(check: Callable[[], bool], timeout: float = WITHIN) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _reveal(setup: Setup, service: str, token_id: str, user: User) -> Response:
    path = f"{setup.tokens(service)}/{token_id}:reveal"
    return setup.account.call("POST", path, {}, authorization=user.authorization)


def _age_sessions(suite: Suite, email: str, seconds: float) -> None:
    """Moves the user's last password authentication into the past (a time machine)."""

    async def age(sql: Sql) -> None:
        await sql.execute(
            "UPDATE sessions SET authenticated_time = authenticated_time - ? "
            "WHERE user_id = (SELECT id FROM users WHERE email = ?)",
            seconds,
            email.lower(),
        )

    stored.transaction(suite.settings, "auth", age)


# -- at rest -------------------------------------------------------------------------------


def test_database_dump_holds_no_secret_in_clear(suite: Suite, setup: Setup) -> None:
    admin = add_user(setup.account, "ADMIN")
    public = setup.create_token(setup.public_service, "dump web")
    private = setup.create_token(setup.private_service, "dump server")
    assert _reveal(setup, setup.private_service, private["id"], admin).status == 200
    secrets = {
        "password": PASSWORD,
        "master key": setup.account.api_key,
        "write-only key": api_key(setup.account, "WRITE_ONLY"),
        "session token": admin.session,
        "public token": public["token"],
        "private token": private["token"],
    }
    dump = stored.dump(suite.settings, "auth")
    # The dump is of the real thing: the rows are there, in their protected forms.
    for table, at_least in (("users", 2), ("api_keys", 2), ("sessions", 1), ("tokens", 2)):
        assert dump.count(f"INSERT INTO {table} ") >= at_least, table
    assert "$argon2id$" in dump
    assert _leaks(dump, secrets) == []
    if suite.settings.database_url is not None:
        return  # PostgreSQL's files are the server's, not this suite's
    # Nor in the files themselves (pages not yet checkpointed sit in the WAL).
    db = database_path(suite.settings.data_dir)
    for path in db.parent.glob(db.name + "*"):
        raw = path.read_bytes().decode("latin-1")
        assert _leaks(raw, secrets) == [], path.name


# -- reveal ----------------------------------------------------------------------------------


def test_reveal_needs_a_recent_password(suite: Suite, setup: Setup) -> None:
    admin = add_user(setup.account, "ADMIN")
    created = setup.create_token(setup.public_service, "reveal me")

    # Signing in is a password authentication; ten minutes later it no longer counts.
    _age_sessions(suite, admin.email, 11 * 60)
    refused = _reveal(setup, setup.public_service, created["id"], admin)
    assert (refused.status, refused.json()["code"]) == (401, 16), refused.body
    assert refused.json()["message"] == REAUTHENTICATION_REQUIRED
    assert "token" not in refused.json() or not refused.json()["token"]

    # An API key never re-authenticates, whatever its power.
    by_key = setup.account.call(
        "POST", f"{setup.tokens(setup.public_service)}/{created['id']}:reveal", {}
    )
    assert (by_key.status, by_key.json()["message"]) == (401, REAUTHENTICATION_REQUIRED)

    wrong = setup.account.call(
        "POST",
        "/v1/sessions:reauthenticate",
        {"password": "not the password at all"},
        authorization=admin.authorization,
    )
    assert wrong.status == 401
    assert _reveal(setup, setup.public_service, created["id"], admin).status == 401

    again = setup.account.call(
        "POST",
        "/v1/sessions:reauthenticate",
        {"password": PASSWORD},
        authorization=admin.authorization,
    )
    assert again.status == 200, again.body
    revealed = _reveal(setup, setup.public_service, created["id"], admin)
    assert revealed.status == 200, revealed.body
    assert revealed.json()["token"] == created["token"]

    reply = personalize(suite, PUBLIC_PATH, token=revealed.json()["token"], origin=SHOP)
    assert passed_auth(reply), reply.body
    assert reply.headers["access-control-allow-origin"] == SHOP


# -- deletion --------------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["token", "service"])
def test_deletion_is_refused_within_5_seconds(suite: Suite, setup: Setup, what: str) -> None:
    account = setup.account
    service = account.service(setup.ps, f"Short-lived for {what}", "PUBLIC", [SHOP])
    created = setup.create_token(service, "soon gone")
    assert passed_auth(personalize(suite, PUBLIC_PATH, token=created["token"], origin=SHOP))
    if what == "token":
        account.ok("DELETE", f"{setup.tokens(service)}/{created['id']}")
    else:
        account.ok("DELETE", f"{setup.services}/{service}")

    def refused() -> bool:
        reply = personalize(suite, PUBLIC_PATH, token=created["token"], origin=SHOP)
        return reply.status == 401 and reply.cors_headers() == {}

    assert _wait_until(refused)


@pytest.fixture
def second_auth(suite: Suite, tmp_path: Path) -> Iterator[int]:
    """Another auth process on the suite's data directory (and certificates); yields its port."""
    port = free_port()
    env = {**os.environ, **suite.env, "P13N_AUTH_PORT": str(port)}
    with (tmp_path / "auth.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.auth"], env=env, stdout=log, stderr=log
        )
        try:
            with component_channel(suite.settings, "cli", port, "auth") as channel:
                health = health_pb2_grpc.HealthStub(channel)

                def serving() -> bool:
                    try:
                        reply = health.Check(
                            health_pb2.HealthCheckRequest(service="p13n.auth"), timeout=1
                        )
                    except grpc.RpcError:
                        return False
                    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

                assert _wait_until(serving, 30), (tmp_path / "auth.log").read_text()
            yield port
        finally:
            process.terminate()
            process.wait(10)


def _check(suite: Suite, port: int, token: str) -> int:
    """The HTTP status the auth process on ``port`` decides for a private-path request,
    asked as the gateway asks it."""
    request = external_auth_pb2.CheckRequest()
    request.attributes.context_extensions["listener"] = "data"
    request.attributes.source.address.socket_address.address = "127.0.0.1"
    http = request.attributes.request.http
    http.method = "POST"
    http.path = PRIVATE_PATH
    http.headers["wp13n-token"] = token
    http.headers["content-type"] = "application/json"
    with component_channel(suite.settings, "gateway", port, "auth") as channel:
        reply = external_auth_pb2_grpc.AuthorizationStub(channel).Check(request, timeout=5)
    if reply.HasField("denied_response"):
        return int(reply.denied_response.status.code)
    return 200


def test_changes_reach_a_second_auth_process_within_5_seconds(
    suite: Suite, setup: Setup, second_auth: int
) -> None:
    """Both processes decide from memory; each notices the other's writes by polling."""
    created = setup.create_token(setup.private_service, "shared")  # written by process one
    assert _wait_until(lambda: _check(suite, second_auth, created["token"]) == 200)
    setup.account.ok("DELETE", f"{setup.tokens(setup.private_service)}/{created['id']}")
    assert _wait_until(lambda: _check(suite, second_auth, created["token"]) == 401)
    assert personalize(suite, PRIVATE_PATH, token=created["token"]).status == 401


# -- logs ------------------------------------------------------------------------------------


def test_secrets_never_reach_the_logs(
    suite: Suite, setup: Setup, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = add_user(setup.account, "ADMIN")  # signs in with the password
    write_only = api_key(setup.account, "WRITE_ONLY")
    public = setup.create_token(setup.public_service, "logged web")
    private = setup.create_token(setup.private_service, "logged server")
    personalize(
        suite,
        PUBLIC_PATH,
        token=public["token"],
        origin=SHOP,
        headers={"authorization": f"TD1 {write_only}"},
    )
    personalize(suite, PRIVATE_PATH, token=private["token"])
    personalize(suite, PRIVATE_PATH, token=private["token"][:-3] + "xyz")  # a typo'd token
    setup.account.call(
        "POST",
        "/v1/sessions:reauthenticate",
        {"password": PASSWORD},
        authorization=admin.authorization,
    )
    revealed = _reveal(setup, setup.private_service, private["id"], admin)
    assert revealed.status == 200
    setup.account.ok("DELETE", f"{setup.tokens(setup.public_service)}/{public['id']}")

    secrets = {
        "password": PASSWORD,
        "master key": setup.account.api_key,
        "write-only key": write_only,
        "session token": admin.session,
        "public token": public["token"],
        "private token": private["token"],
    }
    messages = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records
    )
    # The audit lines are there, so the capture works; they name ids, never secrets.
    assert f"token {private['id']} of service {setup.private_service} revealed" in messages
    assert f"token {public['id']} created in service {setup.public_service}" in messages
    assert _leaks(messages, secrets) == []
    out, err = capfd.readouterr()
    assert _leaks(out + err, secrets) == []
