"""Helpers for auth tests: users and sessions through the admin API, data-plane calls.

Everything goes through the real Envoy, as a console, a server or a browser would call.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from support.admin import PASSWORD, Account
from support.http import Response, request
from support.suite import Suite

_users = itertools.count(1)

ROLES = ("OWNER", "ADMIN", "EDITOR", "VIEWER")
PERMISSION_DENIED = "You do not have permission to perform this action."
# An origin that public services in these tests allow.
SHOP = "https://www.shop.example"


@dataclass(frozen=True)
class User:
    email: str
    session: str

    @property
    def authorization(self) -> str:
        return f"Bearer {self.session}"


def sign_in(suite: Suite, email: str, password: str = PASSWORD) -> str:
    reply = request(
        "POST", suite.admin_port, "/v1/sessions", body={"email": email, "password": password}
    )
    assert reply.status == 200, reply.body
    return str(reply.json()["session_token"])


def add_user(account: Account, role: str) -> User:
    """A user of ``role`` created by the account's owner (a master key acts as an ADMIN,
    which may not grant OWNER), signed in."""
    email = f"{role.lower()}-user-{next(_users)}@{account.email.split('@')[1]}"
    owner = f"Bearer {sign_in(account.suite, account.email)}"
    reply = account.call(
        "POST",
        "/v1/users",
        {"email": email, "password": PASSWORD, "role": role},
        authorization=owner,
    )
    assert reply.status == 200, reply.body
    return User(email, sign_in(account.suite, email))


def api_key(account: Account, key_type: str) -> str:
    created = account.ok("POST", "/v1/api_keys", {"type": key_type})
    return str(created["key"])


def personalize(
    suite: Suite,
    path: str,
    *,
    token: str | None = None,
    origin: str | None = None,
    headers: dict[str, str] | None = None,
    source: str | None = None,
    body: Any = None,
) -> Response:
    """One data-plane event, as a browser (with ``origin``) or a server sends it."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["wp13n-token"] = token
    if origin is not None:
        all_headers["origin"] = origin
    return request(
        "POST",
        suite.data_port,
        path,
        headers=all_headers,
        body={"td_client_id": "visitor-1"} if body is None else body,
        source=source,
    )


def passed_auth(reply: Response) -> bool:
    """Whether the gateway's decision let the request through to a service.

    Refusals of the decision are 401, 403 and 429; what the service answered afterwards
    (offers or an error of its own) is not the auth service's concern here.
    """
    return reply.status not in (401, 403, 429)
