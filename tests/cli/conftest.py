"""A running suite and an account for the CLI's tests, and a way to run `p13n` against it.

The CLI is run in-process (``services.cli.main``), with the admin API named by
``P13N_ADMIN_URL`` and ``P13N_API_KEY`` as a script would, unless a test logs in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.admin import PASSWORD, Account
from support.suite import Suite

from services import cli


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@dataclass
class CliRunner:
    """Runs `p13n ARGS...` against ``account``'s suite and captures what it printed."""

    suite: Suite
    account: Account
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.suite.admin_port}"

    @property
    def password(self) -> str:
        return PASSWORD

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Ran:
        """Runs with the account's key in the environment, or with ``env`` instead
        (``env={}``: as a user who relies on `p13n login`)."""
        if env is None:
            env = {"P13N_ADMIN_URL": self.admin_url, "P13N_API_KEY": self.account.api_key}
        for name in ("P13N_ADMIN_URL", "P13N_API_KEY"):
            self.monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        self.capsys.readouterr()
        code = cli.main(list(args))
        captured = self.capsys.readouterr()
        return Ran(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    running = Suite(Path(tmp_path_factory.mktemp("suite")))
    running.start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def account(suite: Suite) -> Account:
    """An account with both feature flags on, made through the real admin API."""
    return Account.create(suite)


@pytest.fixture
def p13n(
    suite: Suite,
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> CliRunner:
    monkeypatch.delenv("P13N_PARENT_SEGMENT", raising=False)
    return CliRunner(suite, account, monkeypatch, capsys)
