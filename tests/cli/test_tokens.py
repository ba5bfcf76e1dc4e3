"""`p13n tokens create|reveal` against a running suite: create prints the string once,
reveal signs in with the password (never shown) and prints the same string, and a wrong
password is refused without the password appearing anywhere."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from support.admin import Account

from .conftest import CliRunner

WRONG_PASSWORD = "not the password 8d1f"


@pytest.fixture(scope="module")
def shop(account: Account) -> str:
    ps = account.parent_segment("Shoppers")
    account.service(ps, "web-shop", origins=["https://shop.example"])
    account.service(ps, "backend", type_="PRIVATE")
    return ps


def _create(p13n: CliRunner, *args: str) -> dict[str, Any]:
    ran = p13n("tokens", "create", *args, "-o", "json")
    assert ran.code == 0, ran.err
    assert "shown only this once" in ran.err
    created: dict[str, Any] = json.loads(ran.out)
    return created


@pytest.mark.usefixtures("shop")
def test_create_prints_the_token_once_and_reveal_with_the_password_prints_it_again(
    p13n: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _create(p13n, "--service", "web-shop", "checkout")
    assert created["name"] == "checkout"
    assert created["token"].startswith(f"{p13n.account.account_id}/")

    monkeypatch.setenv("P13N_PASSWORD", p13n.password)
    ran = p13n(
        "tokens", "reveal", "--service", "web-shop", "checkout", "--email", p13n.account.email
    )
    assert ran.code == 0, ran.err
    assert created["token"] in ran.out
    assert p13n.password not in ran.out + ran.err


@pytest.mark.usefixtures("shop")
def test_reveal_asks_for_the_email_and_a_hidden_password(
    p13n: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _create(p13n, "--service", "web-shop", "prompted")
    monkeypatch.delenv("P13N_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{p13n.account.email}\n"))
    hidden: list[str] = []

    def type_password(prompt: str) -> str:  # stands in for getpass, which reads the tty
        hidden.append(prompt)
        return p13n.password

    monkeypatch.setattr("click.termui.hidden_prompt_func", type_password)
    ran = p13n("tokens", "reveal", "--service", "web-shop", "prompted", "-o", "json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["token"] == created["token"]
    assert hidden == ["Password: "]
    assert "Email: " in ran.err  # prompts go to stderr: stdout stays parseable
    assert p13n.password not in ran.out + ran.err


@pytest.mark.usefixtures("shop")
def test_reveal_with_a_wrong_password_is_refused_and_never_shows_it(
    p13n: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _create(p13n, "--service", "web-shop", "guarded")
    monkeypatch.setenv("P13N_PASSWORD", WRONG_PASSWORD)
    ran = p13n(
        "tokens", "reveal", "--service", "web-shop", "guarded", "--email", p13n.account.email
    )
    assert ran.code == 1
    assert f"signing in as {p13n.account.email} failed" in ran.err
    assert WRONG_PASSWORD not in ran.out + ran.err
    assert created["token"] not in ran.out + ran.err


@pytest.mark.usefixtures("shop")
def test_a_private_services_token_keeps_its_allowed_ips(p13n: CliRunner) -> None:
    created = _create(
        p13n,
        "--service",
        "backend",
        "batch",
        "--allowed-ip",
        "10.0.0.0/8",
        "--allowed-ip",
        "::1/128",
    )
    assert created["allowed_ips"] == ["10.0.0.0/8", "::1/128"]
    listed = p13n("get", "tokens", "--service", "backend")
    assert "batch" in listed.out
    assert "10.0.0.0/8, ::1/128" in listed.out
    refused = p13n("tokens", "create", "--service", "nowhere", "x")
    assert refused.code == 1
    assert "no service has the id or name 'nowhere'" in refused.err
    assert "'web-shop' (id " in refused.err
