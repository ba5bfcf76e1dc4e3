"""`p13n login` checks the key against the suite before saving it owner-only; the admin
commands then use the profile; `p13n logout` forgets it."""

from __future__ import annotations

import json
import stat

from services.cli import profiles

from .conftest import CliRunner


def test_login_saves_a_checked_key_owner_only_and_logout_forgets_it(p13n: CliRunner) -> None:
    key = {"P13N_API_KEY": p13n.account.api_key}
    ran = p13n("--profile", "shop", "login", "--url", p13n.admin_url, env=key)
    assert ran.code == 0, ran.err
    assert f"as account {p13n.account.account_id}" in ran.out
    path = profiles.profiles_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())["shop"]
    assert saved == {"url": p13n.admin_url, "api_key": p13n.account.api_key}

    assert p13n("--profile", "shop", "logout", env={}).code == 0
    assert profiles.load("shop") is None
    ran = p13n("--profile", "shop", "logout", env={})
    assert ran.code == 1
    assert "no profile 'shop'" in ran.err


def test_a_key_the_suite_refuses_is_not_saved(p13n: CliRunner) -> None:
    wrong = {"P13N_API_KEY": "1/" + "0" * 40}
    ran = p13n("--profile", "wrong", "login", "--url", p13n.admin_url, env=wrong)
    assert ran.code == 1
    assert f"login to {p13n.admin_url} failed" in ran.err
    assert profiles.load("wrong") is None
