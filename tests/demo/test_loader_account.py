"""Which of bootstrap's refusals the demo reports as lost credentials (issue 18 review).

Every FailedPrecondition used to become "already exists ..., but its credentials are
gone": a missing auth database too, which sent the operator to delete the wrong thing.
Only the account (or its owner) being there already means that now; the rest keep their
own message. Real SQLite files in a data directory of the test's own.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from services.auth import operator
from services.auth.store import open_store
from services.common.config import Settings
from services.demo import loader
from services.demo.loader import DemoError

# The demo fails at its account, before it would reach the suite at this origin.
ORIGIN = "http://127.0.0.1:8000"


def _settings(data_dir: Path) -> Settings:
    return Settings.from_env({"P13N_DATA_DIR": str(data_dir), "P13N_SECRET_KEY": "ab" * 32})


def _auth_service_started(settings: Settings, secret_key: bytes) -> None:
    """What the auth service does at start: its store, and its key's fingerprint."""

    async def start() -> None:
        store = await open_store(settings)
        try:
            await store.check_secret_key(secret_key)
        finally:
            await store.close()

    asyncio.run(start())


def test_no_auth_database_is_reported_as_itself(tmp_path: Path) -> None:
    with pytest.raises(DemoError) as caught:
        loader.load_demo(_settings(tmp_path), ORIGIN)
    assert str(caught.value).startswith(
        f"creating the demo account failed: no auth database at {tmp_path / 'auth.db'}"
    )
    assert "credentials" not in str(caught.value)


def test_an_existing_demo_account_without_its_credentials_says_so(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _auth_service_started(settings, settings.secret_key)
    asyncio.run(
        operator.bootstrap(
            settings,
            settings.secret_key,
            email=loader.OWNER_EMAIL,
            password="correct horse battery staple",
            account=loader.ACCOUNT_NAME,
        )
    )
    with pytest.raises(DemoError) as caught:
        loader.load_demo(settings, ORIGIN)  # no demo.json: it creates the account
    assert str(caught.value) == (
        f"Account {loader.ACCOUNT_NAME!r} already exists; nothing was changed, but its "
        f"credentials ({tmp_path / 'demo.json'}) are gone, so the demo cannot use it: start "
        "with a fresh P13N_DATA_DIR"
    )


def test_an_auth_database_of_another_key_is_not_called_lost_credentials(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    _auth_service_started(settings, os.urandom(32))
    with pytest.raises(DemoError) as caught:
        loader.load_demo(settings, ORIGIN)
    message = str(caught.value)
    assert message.startswith("P13N_SECRET_KEY is not the key this data directory's auth")
    assert message.endswith("start with a fresh P13N_DATA_DIR")
    assert "credentials" not in message
