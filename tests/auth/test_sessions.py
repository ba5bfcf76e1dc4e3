"""A session's lifetime and sign-out, on the real store (both backends) and the in-memory directory.

A session is refused from its expiry on (the directory compares with its clock) and from
its deletion on (sign-out deletes it and reloads the directory), also when the directory
reads concurrently: a read that finishes after a newer one was installed never brings a
signed-out session back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

import pytest

from services.auth import operator, secrets
from services.auth.directory import MemoryDirectory
from services.auth.identity_service import SESSION_SECONDS
from services.auth.store import SqlAuthStore, open_store
from services.auth.store_protocols import Credentials, SessionLookup
from services.common.config import Settings

T = TypeVar("T")
KEY = bytes(range(32))
# The directory loads sessions unexpired by the wall clock: the sessions start now.
NOW = time.time()


class _Clock:
    now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(auth_settings: Settings) -> AsyncIterator[SqlAuthStore]:
    # Opened first, as the auth service does at start: the operator writes only there.
    opened = await open_store(auth_settings)
    try:
        await operator.bootstrap(
            auth_settings,
            KEY,
            email="o@shop.example",
            password="correct horse battery staple",
            account="s",
        )
        yield opened
    finally:
        await opened.close()


async def _session(store: SqlAuthStore, keys: secrets.SecretKeys) -> str:
    login = await store.login("o@shop.example")
    assert login is not None
    secret = secrets.generate_secret(secrets.SecretKind.SESSION)
    await store.create_session(login.user_id, keys.lookup_hash(secret), NOW + SESSION_SECONDS, NOW)
    return f"Bearer {secret.reveal()}"


async def _session_id(store: SqlAuthStore, keys: secrets.SecretKeys, bearer: str) -> int:
    found = await store.session(keys.lookup_hash(secrets.parse_session(bearer.split()[1])))
    session = found.session
    assert session is not None
    return session.id


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


class _Hold:
    """One read held back once done: the state it read grows older while others run."""

    def __init__(self) -> None:
        self.read = asyncio.Event()
        self.release = asyncio.Event()


class _HeldReads:
    """The store, with the next read of each kind named in ``holds`` held back."""

    def __init__(self, store: SqlAuthStore) -> None:
        self._store = store
        self.holds: dict[str, _Hold] = {}

    def hold(self, kind: str) -> _Hold:
        self.holds[kind] = _Hold()
        return self.holds[kind]

    async def generation(self) -> int:
        return await self._store.generation()

    def listening(self, on_change: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        return self._store.listening(on_change)

    async def credentials(self, now: float) -> Credentials:
        return await self._after("credentials", self._store.credentials(now))

    async def session(self, lookup_hash: bytes) -> SessionLookup:
        return await self._after("session", self._store.session(lookup_hash))

    async def _after(self, kind: str, reading: Awaitable[T]) -> T:
        found = await reading
        hold = self.holds.pop(kind, None)
        if hold is not None:
            hold.read.set()
            await hold.release.wait()
        return found


async def test_a_session_looked_up_while_it_is_signed_out_stays_out(store: SqlAuthStore) -> None:
    """The look-up of a session this process does not know yet (made through another
    replica) reads it, then the sign-out commits and the refresher installs its
    generation: what the look-up read is older and must not be added to that snapshot."""
    keys = secrets.SecretKeys(KEY)
    held = _HeldReads(store)
    directory = MemoryDirectory(held, keys, clock=_Clock())
    await directory.reload()
    bearer = await _session(store, keys)  # not in the snapshot: created elsewhere
    looked_up = held.hold("session")
    looking_up = asyncio.create_task(directory.ensure_session(bearer))
    await looked_up.read.wait()
    assert await store.delete_session(await _session_id(store, keys, bearer)) is True
    await directory.refresh_if_changed()
    looked_up.release.set()
    await looking_up
    assert directory.identify_credentials(bearer) is None


async def test_a_session_looked_up_while_an_older_load_is_installed_is_kept(
    store: SqlAuthStore,
) -> None:
    """A load that read before the session was created is installed during its look-up:
    the session still exists, and the look-up adds it to that (older) snapshot."""
    keys = secrets.SecretKeys(KEY)
    held = _HeldReads(store)
    directory = MemoryDirectory(held, keys, clock=_Clock())
    await directory.reload()
    loaded = held.hold("credentials")
    loading = asyncio.create_task(directory.reload())  # reads before the session exists
    await loaded.read.wait()
    bearer = await _session(store, keys)  # created elsewhere
    looked_up = held.hold("session")
    looking_up = asyncio.create_task(directory.ensure_session(bearer))
    await looked_up.read.wait()
    loaded.release.set()
    await loading
    looked_up.release.set()
    await looking_up
    assert directory.identify_credentials(bearer) is not None


async def test_a_load_finishing_after_a_newer_one_is_dropped(store: SqlAuthStore) -> None:
    keys = secrets.SecretKeys(KEY)
    held = _HeldReads(store)
    directory = MemoryDirectory(held, keys, clock=_Clock())
    bearer = await _session(store, keys)
    loaded = held.hold("credentials")
    slow = asyncio.create_task(directory.reload())  # reads the session, then waits
    await loaded.read.wait()
    assert await store.delete_session(await _session_id(store, keys, bearer)) is True
    await directory.reload()  # the sign-out's generation
    loaded.release.set()
    await slow
    assert directory.identify_credentials(bearer) is None


class _GoneBack:
    """A store restored from a backup: its generation is lower than the one loaded."""

    def __init__(self, store: SqlAuthStore) -> None:
        self._store = store
        self.behind = 0

    async def generation(self) -> int:
        return await self._store.generation() - self.behind

    def listening(self, on_change: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        return self._store.listening(on_change)

    async def credentials(self, now: float) -> Credentials:
        loaded = await self._store.credentials(now)
        return dataclasses.replace(loaded, generation=loaded.generation - self.behind)

    async def session(self, lookup_hash: bytes) -> SessionLookup:
        found = await self._store.session(lookup_hash)
        return dataclasses.replace(found, generation=found.generation - self.behind)


async def test_a_store_whose_generation_went_back_is_still_followed(store: SqlAuthStore) -> None:
    keys = secrets.SecretKeys(KEY)
    restored = _GoneBack(store)
    directory = MemoryDirectory(restored, keys, clock=_Clock())
    bearer = await _session(store, keys)
    await directory.reload()
    restored.behind = 100
    assert await store.delete_session(await _session_id(store, keys, bearer)) is True
    await directory.refresh_if_changed()
    assert directory.identify_credentials(bearer) is None
