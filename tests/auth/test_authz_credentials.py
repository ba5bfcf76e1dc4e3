"""The decision's credential checks on the admin listener: failures spend the address's
budget, a spent budget refuses every credential with Retry-After, and the identity that goes
upstream names the client address without touching the directory's own."""

from __future__ import annotations

import json

from p13n.auth.v1 import identity_pb2

from services.auth.authz import Decision, Request, decide

MASTER = identity_pb2.Identity(account_id="1", api_key_type=identity_pb2.MASTER)


class _Directory:
    """One master key, ``TD1 right``; failure budgets by address, ``waits`` seconds each.

    The data-plane answers are fixed (parameters ``_named``): these tests ask none of them.
    """

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.waits: dict[str, float] = {}

    def identify_token(self, _token: str) -> identity_pb2.Identity | None:
        return None

    def token_allows_origin(self, _identity: identity_pb2.Identity, _origin: str) -> bool:
        return False

    def token_allows_ip(self, _identity: identity_pb2.Identity, _ip: str) -> bool:
        return False

    def identify_credentials(self, authorization: str) -> identity_pb2.Identity | None:
        return MASTER if authorization == "TD1 right" else None

    def preflight_allows(self, _origin: str, _database: str, _table: str) -> bool:
        return False

    def rate_limited(self, _identity: identity_pb2.Identity | None, _ip: str) -> float:
        return 0.0

    def data_credential_failed(self, _ip: str) -> float:
        return 0.0

    def admin_failures_wait(self, ip: str) -> float:
        return self.waits.get(ip, 0.0)

    def admin_credential_failed(self, ip: str) -> None:
        self.failed.append(ip)


def _admin(directory: _Directory, authorization: str, ip: str, path: str = "/v1/me") -> Decision:
    method = "POST" if path == "/v1/sessions" else "GET"
    headers = {"authorization": authorization} if authorization else {}
    return decide(Request("admin", method, path, headers, ip), directory)


def test_a_wrong_credential_spends_its_address_budget() -> None:
    directory = _Directory()
    assert _admin(directory, "TD1 wrong", "192.0.2.1").status == 401
    assert _admin(directory, "TD1 right", "192.0.2.1").allowed
    assert _admin(directory, "", "192.0.2.1").status == 401  # no credential, no guess
    assert directory.failed == ["192.0.2.1"]


def test_a_spent_budget_refuses_even_the_right_credential_with_retry_after() -> None:
    directory = _Directory()
    directory.waits["192.0.2.1"] = 4.2
    refused = _admin(directory, "TD1 right", "192.0.2.1")
    assert refused.status == 429
    assert refused.response_headers["retry-after"] == "5"
    assert json.loads(refused.body)["message"].startswith("Too many failed credentials")
    assert _admin(directory, "TD1 right", "192.0.2.2").allowed
    assert directory.failed == []


def test_sign_in_is_refused_before_the_password_when_the_budget_is_spent() -> None:
    directory = _Directory()
    allowed = _admin(directory, "", "192.0.2.1", "/v1/sessions")
    assert allowed.identity == identity_pb2.Identity(client_ip="192.0.2.1")
    directory.waits["192.0.2.1"] = 0.2
    refused = _admin(directory, "", "192.0.2.1", "/v1/sessions")
    assert (refused.status, refused.response_headers["retry-after"]) == (429, "1")


def test_the_upstream_identity_names_the_address_on_a_copy() -> None:
    directory = _Directory()
    first = _admin(directory, "TD1 right", "192.0.2.1").identity
    second = _admin(directory, "TD1 right", "192.0.2.2").identity
    assert first is not None
    assert second is not None
    assert (first.client_ip, second.client_ip) == ("192.0.2.1", "192.0.2.2")
    assert not MASTER.client_ip
