"""`p13n bootstrap` and `p13n flags set` as an operator runs them, against a running suite.

The module runs on both backends: with ``P13N_DATABASE_URL`` the commands write to
PostgreSQL, as the running services read it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import stored
from support.admin import PASSWORD
from support.http import Response, request
from support.suite import Suite

from services.auth.store import database_path

pytestmark = pytest.mark.both_backends


FLAG = "eng-lc-realtime-personalization-m2-1"


def _p13n(
    suite: Suite, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    p13n = str(Path(sys.executable).with_name("p13n"))
    return subprocess.run(
        [p13n, *args],
        env={**os.environ, **suite.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _bootstrap(
    suite: Suite, email: str, account: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return _p13n(
        suite,
        "bootstrap",
        "--email",
        email,
        "--password",
        PASSWORD,
        "--account",
        account,
        "--json",
        env=env,
    )


def _dump(suite: Suite) -> str:
    return stored.dump(suite.settings, "auth")


def _admin(suite: Suite, key: str, method: str, path: str, body: Any = None) -> Response:
    return request(
        method, suite.admin_port, path, headers={"authorization": f"TD1 {key}"}, body=body
    )


def _wait_for_me(suite: Suite, key: str) -> Response:
    deadline = time.monotonic() + 5  # the running auth service polls the store every second
    reply = _admin(suite, key, "GET", "/v1/me")
    while reply.status != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        reply = _admin(suite, key, "GET", "/v1/me")
    return reply


@pytest.fixture(scope="module")
def first(suite: Suite) -> dict[str, str]:
    run = _bootstrap(suite, "founder@cli.example", "CLI shop")
    assert run.returncode == 0, run.stderr
    result: dict[str, str] = json.loads(run.stdout)
    return result


def test_bootstrap_prints_an_account_that_works(suite: Suite, first: dict[str, str]) -> None:
    assert set(first) == {"account_id", "user_id", "api_key"}
    me = _wait_for_me(suite, first["api_key"])
    assert me.status == 200, me.body
    assert me.json()["account_id"] == first["account_id"]
    assert me.json()["api_key_type"] == "MASTER"
    signed_in = request(
        "POST",
        suite.admin_port,
        "/v1/sessions",
        body={"email": "founder@cli.example", "password": PASSWORD},
    )
    assert signed_in.status == 200, signed_in.body


def test_bootstrap_writes_to_the_suites_backend(suite: Suite, first: dict[str, str]) -> None:
    """With P13N_DATABASE_URL the account is in PostgreSQL and no SQLite file is made."""
    query = "SELECT u.email, a.name FROM users AS u JOIN accounts AS a ON a.id = u.account_id"
    found = stored.rows(suite.settings, "auth", f"{query} WHERE u.id = ?", int(first["user_id"]))
    assert found == [("founder@cli.example", "CLI shop")]
    on_sqlite = suite.settings.database_url is None
    assert database_path(suite.settings.data_dir).exists() == on_sqlite


@pytest.mark.usefixtures("first")
@pytest.mark.parametrize(
    ("email", "account", "named"),
    [
        pytest.param("founder@cli.example", "CLI shop", "CLI shop", id="same-everything"),
        pytest.param("second@cli.example", "CLI shop", "CLI shop", id="same-account-name"),
        pytest.param("founder@cli.example", "Other shop", "founder@cli.example", id="same-email"),
    ],
)
def test_bootstrap_twice_fails_clearly_and_changes_nothing(
    suite: Suite, email: str, account: str, named: str
) -> None:
    before = _dump(suite)
    run = _bootstrap(suite, email, account)
    assert run.returncode == 1
    assert run.stdout == ""
    assert "already exists" in run.stderr
    assert named in run.stderr
    assert "nothing was changed" in run.stderr
    assert _dump(suite) == before


@pytest.mark.usefixtures("first")
def test_bootstrap_with_another_secret_key_is_refused(suite: Suite) -> None:
    """A key that is not the suite's would store hashes the suite can never match."""
    before = _dump(suite)
    run = _bootstrap(suite, "stray@cli.example", "Stray shop", P13N_SECRET_KEY="ab" * 32)
    assert run.returncode == 1
    assert "P13N_SECRET_KEY" in run.stderr
    assert _dump(suite) == before


def test_flags_set_turns_public_services_on_and_off(suite: Suite, first: dict[str, str]) -> None:
    key = first["api_key"]
    ps = _admin(
        suite, key, "POST", "/v1/parent_segments", {"name": "CLI", "primary_key": "td_client_id"}
    )
    assert ps.status == 200, ps.body
    services = f"/v1/parent_segments/{ps.json()['id']}/services"

    def create(name: str) -> Response:
        body = {
            "name": name,
            "type": "PUBLIC",
            "allowed_origins": ["https://a.example"],
        }
        return _admin(suite, key, "POST", services, body)

    refused = create("Web 1")
    assert (refused.status, refused.json()["code"]) == (400, 9)

    on = _p13n(suite, "flags", "set", "--account", first["account_id"], f"{FLAG}=on")
    assert on.returncode == 0, on.stderr
    assert FLAG in on.stdout
    assert create("Web 2").status == 200
    assert FLAG in _admin(suite, key, "GET", "/v1/me").json()["flags"]

    off = _p13n(suite, "flags", "set", "--account", first["account_id"], f"{FLAG}=off")
    assert off.returncode == 0, off.stderr
    assert create("Web 3").status == 400
    assert FLAG not in _admin(suite, key, "GET", "/v1/me").json()["flags"]


@pytest.mark.parametrize(
    ("account", "assignment", "code", "message"),
    [
        pytest.param(None, "no-such-flag=on", 1, "Unknown flag", id="unknown-flag"),
        pytest.param(None, f"{FLAG}=maybe", 2, "FLAG=on or FLAG=off", id="bad-value"),
        pytest.param("424242", f"{FLAG}=on", 1, "not found", id="unknown-account"),
    ],
)
def test_flags_set_refusals_are_clear(
    suite: Suite,
    first: dict[str, str],
    account: str | None,
    assignment: str,
    code: int,
    message: str,
) -> None:
    run = _p13n(suite, "flags", "set", "--account", account or first["account_id"], assignment)
    assert run.returncode == code
    assert message in run.stderr
