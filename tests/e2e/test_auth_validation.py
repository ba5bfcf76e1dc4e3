"""Every validation message and limit of services and tokens (docs/design.md#tokens), through Envoy.

The expected messages are literal copies of the design's wording, not the constants of
the code under test, so a changed message fails here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from support.admin import Account
from support.suite import Suite

from services.auth import operator

BLANK = "Name can't be blank"
TOO_LONG = "Name is too long (maximum is 100 characters)"
TAKEN = "Name has already been taken"
IPS_ON_PUBLIC = "Allowed ips must not be set when the parent service is public"
TYPE_IMMUTABLE = "Service type cannot be changed"
FLAG = "eng-lc-realtime-personalization-m2-1"

INVALID_ARGUMENT = (400, 3)
FAILED_PRECONDITION = (400, 9)
RESOURCE_EXHAUSTED = (429, 8)


@dataclass(frozen=True)
class World:
    ps: str
    public: str  # a public service named "Web" with a token named "web"
    private: str  # a private service named "Backend" with a token named "backend"

    def path(self, template: str) -> str:
        return template.format(ps=self.ps, public=self.public, private=self.private)


@pytest.fixture(scope="module")
def world(account: Account) -> World:
    ps = account.parent_segment("Validation")
    public = account.service(ps, "Web", "PUBLIC", ["https://shop.example"])
    private = account.service(ps, "Backend", "PRIVATE")
    account.token(ps, public, "web")
    account.token(ps, private, "backend")
    return World(ps, public, private)


SERVICES = "/v1/parent_segments/{ps}/services"
PUBLIC = "/v1/parent_segments/{ps}/services/{public}"
PUBLIC_TOKENS = "/v1/parent_segments/{ps}/services/{public}/tokens"
PRIVATE_TOKENS = "/v1/parent_segments/{ps}/services/{private}/tokens"


def _service(name: str, type_: str = "PRIVATE") -> dict[str, Any]:
    return {"name": name, "type": type_}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        pytest.param("POST", SERVICES, _service(""), INVALID_ARGUMENT, BLANK, id="service-empty"),
        pytest.param("POST", SERVICES, _service("   "), INVALID_ARGUMENT, BLANK, id="service-blank"),
        pytest.param(
            "POST", SERVICES, _service("s" * 101), INVALID_ARGUMENT, TOO_LONG, id="service-101"
        ),
        pytest.param("POST", SERVICES, _service("Web"), INVALID_ARGUMENT, TAKEN, id="service-dup"),
        pytest.param(
            "POST", SERVICES, _service("WEB"), INVALID_ARGUMENT, TAKEN, id="service-dup-case"
        ),
        pytest.param(
            "PATCH", PUBLIC + "?update_mask=name", {"name": ""}, INVALID_ARGUMENT, BLANK,
            id="rename-blank",
        ),
        pytest.param(
            "PATCH", PUBLIC + "?update_mask=name", {"name": "s" * 101}, INVALID_ARGUMENT, TOO_LONG,
            id="rename-101",
        ),
        pytest.param(
            "PATCH", PUBLIC + "?update_mask=name", {"name": "Backend"}, INVALID_ARGUMENT, TAKEN,
            id="rename-dup",
        ),
        pytest.param(
            "PATCH", PUBLIC + "?update_mask=type", {"type": "PRIVATE"},
            INVALID_ARGUMENT, TYPE_IMMUTABLE, id="type-change-with-mask",
        ),
        pytest.param(
            "PATCH", PUBLIC, {"name": "Web", "type": "PRIVATE"},
            INVALID_ARGUMENT, TYPE_IMMUTABLE, id="type-change-implied-mask",
        ),
        pytest.param("POST", PUBLIC_TOKENS, {"name": ""}, INVALID_ARGUMENT, BLANK, id="token-empty"),
        pytest.param(
            "POST", PUBLIC_TOKENS, {"name": " \t "}, INVALID_ARGUMENT, BLANK, id="token-blank"
        ),
        pytest.param(
            "POST", PUBLIC_TOKENS, {"name": "t" * 101}, INVALID_ARGUMENT, TOO_LONG, id="token-101"
        ),
        pytest.param("POST", PUBLIC_TOKENS, {"name": "web"}, INVALID_ARGUMENT, TAKEN, id="token-dup"),
        pytest.param(
            "POST", PRIVATE_TOKENS, {"name": "Backend"}, INVALID_ARGUMENT, TAKEN,
            id="token-dup-case",
        ),
        pytest.param(
            "POST", PUBLIC_TOKENS, {"name": "office", "allowed_ips": ["203.0.113.0/24"]},
            INVALID_ARGUMENT, IPS_ON_PUBLIC, id="allowed-ips-on-public-token",
        ),
    ],
)  # fmt: skip
def test_refusal_message_is_exact(
    account: Account,
    world: World,
    method: str,
    path: str,
    body: dict[str, Any],
    status: tuple[int, int],
    message: str,
) -> None:
    reply = account.call(method, world.path(path), body)
    assert (reply.status, reply.json()["code"]) == status, reply.body
    assert reply.json()["message"] == message


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", SERVICES, _service("s" * 100), id="service-100"),
        pytest.param("POST", SERVICES, _service("  Padded  "), id="service-padded"),
        pytest.param("PATCH", PUBLIC + "?update_mask=type", {"type": "PUBLIC"},
                     id="type-unchanged"),
        pytest.param("POST", PUBLIC_TOKENS, {"name": "t" * 100}, id="token-100"),
        pytest.param(
            "POST", PRIVATE_TOKENS, {"name": "office", "allowed_ips": ["203.0.113.0/24", "2001:db8::/32"]},
            id="private-token-with-ips",
        ),
    ],
)  # fmt: skip
def test_the_limits_themselves_are_accepted(
    account: Account, world: World, method: str, path: str, body: dict[str, Any]
) -> None:
    """The boundary values pass, so the refusals above are the limits and not something else."""
    reply = account.call(method, world.path(path), body)
    assert reply.status == 200, reply.body


def test_type_is_kept_and_other_fields_update(account: Account, world: World) -> None:
    updated = account.ok("PATCH", world.path(PUBLIC), {"description": "the shop", "type": "PUBLIC"})
    assert (updated["description"], updated["type"]) == ("the shop", "PUBLIC")
    assert account.ok("GET", world.path(PUBLIC))["type"] == "PUBLIC"


def test_51st_token_of_a_service_and_201st_of_a_parent_segment(account: Account) -> None:
    ps = account.parent_segment("Token limits")
    services = [account.service(ps, f"Backend {n}", "PRIVATE") for n in range(5)]
    for n in range(50):
        account.token(ps, services[0], f"token {n}")
    reply = account.call(
        "POST", f"/v1/parent_segments/{ps}/services/{services[0]}/tokens", {"name": "token 50"}
    )
    assert (reply.status, reply.json()["code"]) == RESOURCE_EXHAUSTED, reply.body
    assert "a service can have at most 50 tokens" in reply.json()["message"]

    for service in services[1:4]:
        for n in range(50):
            account.token(ps, service, f"token {n}")
    reply = account.call(
        "POST", f"/v1/parent_segments/{ps}/services/{services[4]}/tokens", {"name": "token 0"}
    )
    assert (reply.status, reply.json()["code"]) == RESOURCE_EXHAUSTED, reply.body
    assert "a parent segment can have at most 200 tokens" in reply.json()["message"]

    # Deleting one token frees a place in both limits.
    first = account.ok("GET", f"/v1/parent_segments/{ps}/services/{services[0]}/tokens")
    token_id = first["tokens"][0]["id"]
    account.ok("DELETE", f"/v1/parent_segments/{ps}/services/{services[0]}/tokens/{token_id}")
    account.token(ps, services[4], "token 0")


def test_public_service_needs_flag_m2_1(suite: Suite) -> None:
    account = Account.create(suite, flags=())
    ps = account.parent_segment("No flags")
    path = f"/v1/parent_segments/{ps}/services"
    body = {"name": "Web", "type": "PUBLIC", "allowed_origins": ["https://a.example"]}
    refused = account.call("POST", path, body)
    assert (refused.status, refused.json()["code"]) == FAILED_PRECONDITION, refused.body
    assert FLAG in refused.json()["message"]
    # Private services need no flag.
    account.ok("POST", path, {"name": "Backend", "type": "PRIVATE"})

    asyncio.run(operator.set_flag(suite.settings, account.account_id, FLAG, True))
    public = account.ok("POST", path, body)["id"]
    account.ok("POST", f"{path}/{public}/tokens", {"name": "web"})

    # Off again: the flag covers public services and their tokens.
    asyncio.run(operator.set_flag(suite.settings, account.account_id, FLAG, False))
    refused = account.call("POST", f"{path}/{public}/tokens", {"name": "web 2"})
    assert (refused.status, refused.json()["code"]) == FAILED_PRECONDITION, refused.body
    assert FLAG in refused.json()["message"]
