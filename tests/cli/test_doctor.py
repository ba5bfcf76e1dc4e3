"""`p13n doctor` against the real suite (services and Envoy): all ok when healthy; with a
service stopped it names that service; from an origin nobody allowed it says which origin
and how to allow it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support.admin import Account
from support.suite import Suite, single_process

from .conftest import CliRunner, Ran

ORIGIN = "https://shop.example"
ORDER = [
    "gateway",
    "auth",
    "api key",
    "profile",
    "offers",
    "test event",
    "cors preflight",
    "cors refusal",
    "clock",
]


@dataclass(frozen=True)
class Shop:
    parent_segment: str
    service: str


@pytest.fixture(scope="module")
def shop(account: Account) -> Shop:
    """A parent segment with an event table and a public service allowing ORIGIN."""
    ps = account.parent_segment("Doctor")
    account.event(ps, "page_view", "shop_db", "page_views")
    return Shop(ps, account.service(ps, "Web", "PUBLIC", [ORIGIN]))


def _doctor(p13n: CliRunner, *args: str) -> tuple[Ran, dict[str, dict[str, Any]]]:
    """Runs the doctor twice, as a table and as JSON; returns the table's run and the
    JSON's checks by name."""
    data_url = f"http://127.0.0.1:{p13n.suite.data_port}"
    table = p13n("doctor", "--data-url", data_url, *args)
    ran = p13n("doctor", "--data-url", data_url, "-o", "json", *args)
    assert ran.code == table.code, (table, ran)
    checks = json.loads(ran.out)
    assert [check["name"] for check in checks] == ORDER
    return table, {check["name"]: check for check in checks}


@contextlib.contextmanager
def _stopped(suite: Suite, account: Account, service: str) -> Iterator[None]:
    suite.stop_service(service)
    try:
        yield
    finally:
        suite.start_service(service)
        account.wait_until_known()


def test_a_healthy_suite_passes_every_check_and_the_checks_token_is_gone(
    p13n: CliRunner, shop: Shop
) -> None:
    table, checks = _doctor(p13n)
    assert table.code == 0, table.out
    assert {name: check["status"] for name, check in checks.items()} == dict.fromkeys(ORDER, "ok")
    assert (
        f"POST /public/shop_db/page_views from {ORIGIN}: HTTP 200" in checks["test event"]["detail"]
    )
    lines = table.out.splitlines()
    assert [line.split()[0] for line in lines] == ["ok"] * len(ORDER), table.out
    # Both runs made a token for the check and deleted it after.
    tokens = p13n.account.ok(
        "GET", f"/v1/parent_segments/{shop.parent_segment}/services/{shop.service}/tokens"
    )
    assert tokens.get("tokens", []) == []


@pytest.mark.usefixtures("shop")
def test_with_auth_stopped_it_names_auth(p13n: CliRunner, suite: Suite) -> None:
    with _stopped(suite, p13n.account, "auth"):
        table, checks = _doctor(p13n)
    assert table.code == 1
    assert checks["gateway"]["status"] == "ok"
    assert checks["auth"]["status"] == "fail"
    assert "cannot reach the auth service" in checks["auth"]["detail"]
    assert "p13n-auth" in checks["auth"]["hint"]
    assert [n for n, c in checks.items() if c["status"] == "fail"] == ["auth"]
    assert "FAIL  auth" in table.out


@pytest.mark.usefixtures("shop")
def test_with_profile_stopped_it_names_profile(p13n: CliRunner, suite: Suite) -> None:
    with _stopped(suite, p13n.account, "profile"):
        table, checks = _doctor(p13n)
    assert table.code == 1
    failed = {name: c["detail"] for name, c in checks.items() if c["status"] == "fail"}
    if single_process():
        # Profile's process is auth's (P13N_SINGLE_PROCESS=1): the first check that finds
        # it gone is auth's, and the checks that need auth are not run.
        assert list(failed) == ["auth"], failed
        assert "the gateway cannot reach the auth service" in failed["auth"]
        assert "FAIL  auth" in table.out
        return
    assert checks["auth"]["status"] == checks["api key"]["status"] == "ok"
    assert checks["profile"]["status"] == "fail"
    assert "no answer from the profile service" in checks["profile"]["detail"]
    # No other service is blamed: a failure elsewhere is offers saying it cannot reach profile.
    assert all("profile service" in detail for detail in failed.values()), failed
    assert "FAIL  profile" in table.out


def test_an_origin_nobody_allowed_fails_the_event_and_cors_naming_it(
    p13n: CliRunner, shop: Shop
) -> None:
    token = p13n.account.token(shop.parent_segment, shop.service, name="given")
    wrong = "https://wrong.example"
    table, checks = _doctor(p13n, "--origin", wrong, "--token", token)
    assert table.code == 1
    assert token not in table.out
    for name in ("test event", "cors preflight"):
        assert checks[name]["status"] == "fail", checks[name]
        assert wrong in checks[name]["detail"]
        assert (
            f"add {wrong} to the allowed_origins of public service 'Web' (id {shop.service}; "
            f"allowed now: {ORIGIN})"
        ) in checks[name]["hint"]
    assert checks["cors refusal"]["status"] == "ok"
    # The token given is used as it is, not deleted.
    tokens = p13n.account.ok(
        "GET", f"/v1/parent_segments/{shop.parent_segment}/services/{shop.service}/tokens"
    )
    assert [t["name"] for t in tokens["tokens"]] == ["given"]


def test_a_primary_key_with_a_regex_gets_a_visitor_id_it_accepts(
    p13n: CliRunner, shop: Shop
) -> None:
    keys = f"/v1/parent_segments/{shop.parent_segment}/stitching_keys"
    primary = next(
        key
        for key in p13n.account.ok("GET", keys)["stitching_keys"]
        if key["name"] == "td_client_id"
    )
    regex = f"{keys}/{primary['id']}?update_mask=regex"
    p13n.account.ok("PATCH", regex, {"regex": "[a-z]+"})
    try:
        table, checks = _doctor(p13n)
        assert table.code == 0, table.out
        assert checks["test event"]["status"] == "ok"
        # A visitor id the regex refuses, given: the event's 400 says what to do.
        table, checks = _doctor(p13n, "--visitor", "p13n-doctor")
        assert table.code == 1
        assert checks["test event"]["status"] == "fail", checks["test event"]
        assert "HTTP 400" in checks["test event"]["detail"]
        assert "--visitor VALUE" in checks["test event"]["hint"]
    finally:
        p13n.account.ok("PATCH", regex, {"regex": ""})
