"""A session's lifetime and sign-out, on the real store (both backends) and the in-memory directory.

A session is refused from its expiry on (the directory compares with its clock) and from
its deletion on (sign-out deletes it and reloads the directory).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from services.auth import operator, secrets
from services.auth.directory import MemoryDirectory
from services.auth.identity_service import SESSION_SECONDS
from services.auth.store import SqlAuthStore, open_store
from services.common.config import Settings

KEY = bytes(range(32))
# The directory loads sessions unexpired by the wall clock: the sessions start now.
NOW = time.time()


class _Clock:
    now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(auth_settings: Settings) -> AsyncIterator[SqlAuthStore]:
    await operator.bootstrap(
        auth_settings,
        KEY,
        email="o@shop.example",
        password="correct horse battery staple",
        account="s",
    )
    opened = await open_store(auth_settings)
    try:
        yield opened
    finally:
        await opened.close()


async def _session(store: SqlAuthStore, keys: secrets.SecretKeys) -> str:
    login = await store.login("o@shop.example")
    assert login is not None
    secret = secrets.generate_secret(secrets.SecretKind.SESSION)
    await store.create_session(login.user_id, keys.lookup_hash(secret), NOW + SESSION_SECONDS, NOW)
    return f"Bearer {secret.reveal()}"


async def test_a_session_is_refused_from_its_expiry_on(store: SqlAuthStore) -> None:
    keys, clock = secrets.SecretKeys(KEY), _Clock()
    directory = MemoryDirectory(store, keys, clock=clock)
    bearer = await _session(store, keys)
    await directory.reload()
    assert directory.identify_credentials(bearer) is not None
    clock.now = NOW + SESSION_SECONDS - 1
    assert directory.identify_credentials(bearer) is not None
    clock.now = NOW + SESSION_SECONDS
    assert directory.identify_credentials(bearer) is None


async def test_a_deleted_session_is_refused_once_reloaded(store: SqlAuthStore) -> None:
    keys = secrets.SecretKeys(KEY)
    directory = MemoryDirectory(store, keys, clock=_Clock())
    bearer = await _session(store, keys)
    await directory.reload()
    identity = directory.identify_credentials(bearer)
    assert identity is not None
    assert await store.delete_session(int(identity.session_id)) is True
    await directory.reload()
    assert directory.identify_credentials(bearer) is None
    assert not directory.session_valid(identity.session_id)
    # Nor does the look-up of a session another process made bring it back.
    await directory.ensure_session(bearer)
    assert directory.identify_credentials(bearer) is None
