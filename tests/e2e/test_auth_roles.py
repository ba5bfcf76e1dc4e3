"""The role matrix: every principal against every admin action, through the real Envoy.

Principals are users of each role signed in with a session, a MASTER key and a WRITE_ONLY
key. Each admin action (every RPC bound under ``/v1/`` in the contracts, of all three
services) is called twice: on resources that do not exist, where a forbidden caller must
get PERMISSION_DENIED and never NOT_FOUND (permission is checked before existence), and,
for the auth service's own actions, on real resources, where an allowed caller succeeds.

The minimum role of each action is written here from docs/design.md#roles ("Managing services,
tokens, users, keys needs ADMIN or OWNER"; EDITOR configures segments, attributes and
personalizations; VIEWER reads), not read from the services' rules.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from support.admin import PASSWORD, Account
from support.auth import PERMISSION_DENIED, add_user, api_key
from support.contracts import admin_rules, descriptor_set
from support.http import Response

pytestmark = pytest.mark.both_backends

VIEWER, EDITOR, ADMIN = "VIEWER", "EDITOR", "ADMIN"
RANK = {"VIEWER": 1, "EDITOR": 2, "ADMIN": 3, "OWNER": 4}
# What each principal acts as: a MASTER key has full power, a WRITE_ONLY key none at all.
PRINCIPALS = {"OWNER": 4, "ADMIN": 3, "EDITOR": 2, "VIEWER": 1, "MASTER": 4, "WRITE_ONLY": 0}
API_KEYS = ("MASTER", "WRITE_ONLY")

_PROFILE_RESOURCES = ("ParentSegment", "EventDefinition", "Attribute", "StitchingKey", "Segment")

MINIMUM_ROLE: dict[str, str] = {
    # Auth: the caller's own session and view.
    "p13n.auth.v1.IdentityService/ReauthenticateSession": VIEWER,
    "p13n.auth.v1.IdentityService/GetMe": VIEWER,
    "p13n.auth.v1.IdentityService/DeleteSession": VIEWER,
    # Auth: the audit log names users and keys; admins read it.
    "p13n.auth.v1.AuditService/ListAuditEntries": ADMIN,
    # Auth: users, keys, services and tokens are managed by admins.
    "p13n.auth.v1.IdentityService/CreateUser": ADMIN,
    "p13n.auth.v1.IdentityService/CreateApiKey": ADMIN,
    "p13n.auth.v1.IdentityService/DeleteApiKey": ADMIN,
    **{
        f"p13n.auth.v1.RegistryService/{m}": ADMIN
        for m in (
            "CreateService",
            "GetService",
            "ListServices",
            "UpdateService",
            "DeleteService",
            "CreateToken",
            "ListTokens",
            "DeleteToken",
            "RevealToken",
            "CreateIdentitySecret",
            "ListIdentitySecrets",
            "DeleteIdentitySecret",
            "RevealIdentitySecret",
        )
    },
    # Profile: editors configure, viewers read.
    **{f"p13n.profile.v1.ConfigService/Get{r}": VIEWER for r in _PROFILE_RESOURCES},
    **{f"p13n.profile.v1.ConfigService/List{r}s": VIEWER for r in _PROFILE_RESOURCES},
    **{
        f"p13n.profile.v1.ConfigService/{verb}{r}": EDITOR
        for r in _PROFILE_RESOURCES
        for verb in ("Create", "Update", "Delete")
    },
    "p13n.profile.v1.ConfigService/ImportSegmentMembers": EDITOR,
    "p13n.profile.v1.ProfileService/GetProfile": VIEWER,
    "p13n.profile.v1.ProfileService/ListMergeLog": VIEWER,
    "p13n.profile.v1.ProfileService/ImportAttributes": EDITOR,
    # Offers: editors configure personalizations, viewers read and preview them.
    "p13n.offers.v1.PersonalizationConfigService/GetPersonalization": VIEWER,
    "p13n.offers.v1.PersonalizationConfigService/ListPersonalizations": VIEWER,
    "p13n.offers.v1.PersonalizationConfigService/PreviewPersonalization": VIEWER,
    "p13n.offers.v1.PersonalizationConfigService/CreatePersonalization": EDITOR,
    "p13n.offers.v1.PersonalizationConfigService/UpdatePersonalization": EDITOR,
    "p13n.offers.v1.PersonalizationConfigService/DeletePersonalization": EDITOR,
}
# Open to anyone: signing in is how a caller gets credentials.
OPEN = {"p13n.auth.v1.IdentityService/CreateSession"}
# Actions that need a password-authenticated session: an API key, whatever its power, is
# answered UNAUTHENTICATED with this message.
SESSIONS_ONLY = {
    "p13n.auth.v1.IdentityService/ReauthenticateSession": "Re-authentication needs a session",
    "p13n.auth.v1.RegistryService/RevealToken": "Re-authentication required",
    "p13n.auth.v1.RegistryService/RevealIdentitySecret": "Re-authentication required",
    "p13n.auth.v1.IdentityService/DeleteSession": "Signing out needs a session",
}
# Signing out ends the caller's session: each call gets a session of its own to end.
SIGN_OUT = "p13n.auth.v1.IdentityService/DeleteSession"


@dataclass(frozen=True)
class Binding:
    rpc: str
    method: str
    path: str  # the template, e.g. /v1/parent_segments/{parent_segment_id}/services


def _bindings() -> dict[str, Binding]:
    """Every RPC the contracts bind to an admin API path (``/v1/...``)."""
    found = {}
    for r in admin_rules(descriptor_set()):
        rpc = f"{r.package}.{r.service.name}/{r.method.name}"
        found[rpc] = Binding(rpc, r.verb, r.path)
    return found


BINDINGS = _bindings()
MISSING_ID = "999999"


def test_the_matrix_covers_every_admin_action() -> None:
    """A new admin RPC must get its row here before the matrix can pass."""
    assert set(BINDINGS) == set(MINIMUM_ROLE) | OPEN


def _allowed(principal: str, rpc: str) -> bool:
    return PRINCIPALS[principal] >= RANK[MINIMUM_ROLE[rpc]]


def _expect_refused(reply: Response) -> None:
    assert reply.status == 403, reply.body
    assert reply.json()["code"] == 7
    assert reply.json()["message"] == PERMISSION_DENIED


def _expect_session_required(reply: Response, rpc: str) -> None:
    assert reply.status == 401, reply.body
    assert reply.json()["code"] == 16
    assert reply.json()["message"].startswith(SESSIONS_ONLY[rpc])


@pytest.fixture(scope="module")
def credentials(account: Account) -> dict[str, str]:
    """The Authorization header of each principal."""
    found = {role: add_user(account, role).authorization for role in RANK}
    found["MASTER"] = f"TD1 {account.api_key}"
    found["WRITE_ONLY"] = f"TD1 {api_key(account, 'WRITE_ONLY')}"
    return found


def _authorization(account: Account, credentials: dict[str, str], rpc: str, principal: str) -> str:
    """The principal's credentials; for signing out, a fresh session of its role."""
    if rpc == SIGN_OUT and principal not in API_KEYS:
        return add_user(account, principal).authorization
    return credentials[principal]


MATRIX = [
    pytest.param(rpc, principal, id=f"{rpc.split('/')[1]}-{principal}")
    for rpc in sorted(MINIMUM_ROLE)
    for principal in PRINCIPALS
]


@pytest.mark.parametrize(("rpc", "principal"), MATRIX)
def test_permission_is_checked_before_existence(
    account: Account, credentials: dict[str, str], rpc: str, principal: str
) -> None:
    binding = BINDINGS[rpc]
    path = re.sub(r"\{[a-z_]+\}", MISSING_ID, binding.path)
    body: dict[str, Any] | None = None
    if binding.method in ("POST", "PATCH"):
        body = {"password": PASSWORD} if rpc.endswith("/ReauthenticateSession") else {}
    authorization = _authorization(account, credentials, rpc, principal)
    reply = account.call(binding.method, path, body, authorization=authorization)
    if not _allowed(principal, rpc):
        _expect_refused(reply)
    elif principal in API_KEYS and rpc in SESSIONS_ONLY:
        _expect_session_required(reply, rpc)
    else:
        # Let through: the service answers for itself (NOT_FOUND, a validation error, ...).
        assert reply.status not in (401, 403), reply.body


# -- the auth service's actions on real resources ----------------------------------------


@dataclass(frozen=True)
class Real:
    """Real resources of the account, and a way to make fresh ones for destructive calls."""

    account: Account
    ps: str
    service: str
    token: str
    names: itertools.count[int]

    def name(self) -> str:
        return f"n{next(self.names)}"

    def new_service(self) -> str:
        return self.account.service(self.ps, self.name(), "PRIVATE")

    def new_public_service(self) -> str:
        return self.account.service(self.ps, self.name(), "PUBLIC", ["https://roles.example"])

    def new_identity_secret(self) -> str:
        """The path of a fresh identity secret (in a fresh service: at most 5 per service)."""
        secrets = f"{self.services}/{self.new_public_service()}/identity_secrets"
        return f"{secrets}/{self.account.ok('POST', secrets, {'name': 's'})['id']}"

    def new_token(self) -> str:
        created = self.account.ok("POST", f"{self.tokens}", {"name": self.name()})
        return str(created["id"])

    @property
    def services(self) -> str:
        return f"/v1/parent_segments/{self.ps}/services"

    @property
    def tokens(self) -> str:
        return f"{self.services}/{self.service}/tokens"


@pytest.fixture(scope="module")
def real(account: Account) -> Real:
    ps = account.parent_segment("Roles")
    service = account.service(ps, "Backend", "PRIVATE")
    created = account.ok(
        "POST", f"/v1/parent_segments/{ps}/services/{service}/tokens", {"name": "server"}
    )
    return Real(account, ps, service, str(created["id"]), itertools.count(1))


Call = tuple[str, str, dict[str, Any] | None]

REAL_CALLS: dict[str, Callable[[Real], Call]] = {
    "IdentityService/ReauthenticateSession": lambda _r: (
        "POST",
        "/v1/sessions:reauthenticate",
        {"password": PASSWORD},
    ),
    "IdentityService/GetMe": lambda _r: ("GET", "/v1/me", None),
    "IdentityService/DeleteSession": lambda _r: ("DELETE", "/v1/sessions/current", None),
    "AuditService/ListAuditEntries": lambda _r: ("GET", "/v1/audit_log", None),
    "IdentityService/CreateUser": lambda r: (
        "POST",
        "/v1/users",
        {"email": f"{r.name()}@roles.example", "password": PASSWORD, "role": "VIEWER"},
    ),
    "IdentityService/CreateApiKey": lambda _r: (
        "POST",
        "/v1/api_keys",
        {"type": "WRITE_ONLY"},
    ),
    "IdentityService/DeleteApiKey": lambda r: (
        "DELETE",
        "/v1/api_keys/" + r.account.ok("POST", "/v1/api_keys", {"type": "WRITE_ONLY"})["id"],
        None,
    ),
    "RegistryService/CreateService": lambda r: (
        "POST",
        r.services,
        {"name": r.name(), "type": "PRIVATE"},
    ),
    "RegistryService/GetService": lambda r: ("GET", f"{r.services}/{r.service}", None),
    "RegistryService/ListServices": lambda r: ("GET", r.services, None),
    "RegistryService/UpdateService": lambda r: (
        "PATCH",
        f"{r.services}/{r.service}?update_mask=description",
        {"description": r.name()},
    ),
    "RegistryService/DeleteService": lambda r: (
        "DELETE",
        f"{r.services}/{r.new_service()}",
        None,
    ),
    "RegistryService/CreateToken": lambda r: ("POST", r.tokens, {"name": r.name()}),
    "RegistryService/ListTokens": lambda r: ("GET", r.tokens, None),
    "RegistryService/DeleteToken": lambda r: ("DELETE", f"{r.tokens}/{r.new_token()}", None),
    "RegistryService/RevealToken": lambda r: ("POST", f"{r.tokens}/{r.token}:reveal", {}),
    "RegistryService/CreateIdentitySecret": lambda r: (
        "POST",
        f"{r.services}/{r.new_public_service()}/identity_secrets",
        {"name": r.name()},
    ),
    "RegistryService/ListIdentitySecrets": lambda r: (
        "GET",
        f"{r.services}/{r.new_public_service()}/identity_secrets",
        None,
    ),
    "RegistryService/DeleteIdentitySecret": lambda r: ("DELETE", r.new_identity_secret(), None),
    "RegistryService/RevealIdentitySecret": lambda r: (
        "POST",
        f"{r.new_identity_secret()}:reveal",
        {},
    ),
}


def test_every_auth_action_has_a_real_call() -> None:
    auth = {rpc.split(".")[-1] for rpc in MINIMUM_ROLE if rpc.startswith("p13n.auth.")}
    assert set(REAL_CALLS) == auth


@pytest.mark.parametrize(
    ("action", "principal"),
    [
        pytest.param(action, principal, id=f"{action.split('/')[1]}-{principal}")
        for action in sorted(REAL_CALLS)
        for principal in PRINCIPALS
    ],
)
def test_auth_action_on_real_resources(
    real: Real, credentials: dict[str, str], action: str, principal: str
) -> None:
    rpc = f"p13n.auth.v1.{action}"
    method, path, body = REAL_CALLS[action](real)
    authorization = _authorization(real.account, credentials, rpc, principal)
    reply = real.account.call(method, path, body, authorization=authorization)
    if not _allowed(principal, rpc):
        _expect_refused(reply)
    elif principal in API_KEYS and rpc in SESSIONS_ONLY:
        _expect_session_required(reply, rpc)
    else:
        assert reply.status == 200, reply.body


def test_a_refused_delete_changes_nothing(real: Real, credentials: dict[str, str]) -> None:
    service = real.new_service()
    for principal in ("EDITOR", "VIEWER", "WRITE_ONLY"):
        reply = real.account.call(
            "DELETE", f"{real.services}/{service}", authorization=credentials[principal]
        )
        _expect_refused(reply)
    assert real.account.call("GET", f"{real.services}/{service}").status == 200


@pytest.mark.parametrize(
    ("creator", "role", "allowed"),
    [
        pytest.param("ADMIN", "ADMIN", True, id="admin-creates-admin"),
        pytest.param("ADMIN", "OWNER", False, id="admin-cannot-create-owner"),
        pytest.param("OWNER", "OWNER", True, id="owner-creates-owner"),
        # A master key acts as an ADMIN: otherwise an admin could mint one to become owner.
        pytest.param("MASTER", "OWNER", False, id="master-key-cannot-create-owner"),
        pytest.param("MASTER", "ADMIN", True, id="master-key-creates-admin"),
    ],
)
def test_no_one_grants_more_than_their_own_role(
    real: Real, credentials: dict[str, str], creator: str, role: str, allowed: bool
) -> None:
    body = {"email": f"{real.name()}@grant.example", "password": PASSWORD, "role": role}
    reply = real.account.call("POST", "/v1/users", body, authorization=credentials[creator])
    if allowed:
        assert reply.status == 200, reply.body
    else:
        _expect_refused(reply)
