"""How an auth process hears other processes' changes: notified on PostgreSQL, never on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.auth.store import SqlAuthStore, open_store
from services.common import postgres
from services.common.config import Settings


async def _change(store: SqlAuthStore, name: str) -> None:
    await store.bootstrap_account(name, f"o@{name}.example", "h", name.encode(), 0.0)


async def test_a_change_is_heard_at_commit_on_postgresql_and_not_at_all_on_sqlite(
    store: SqlAuthStore, auth_settings: Settings
) -> None:
    heard = asyncio.Event()
    async with store.listening(heard.set):
        await _change(store, "shop")
        if auth_settings.database_url is None:
            # One SQLite file has no channel: other processes find the change by polling.
            await asyncio.sleep(0.2)
            assert not heard.is_set()
        else:
            await asyncio.wait_for(heard.wait(), 5)


async def test_listening_starts_later_when_it_cannot_at_first(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store(Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **postgres_env}))
    connect = postgres.Listener._connect  # noqa: SLF001 (the one seam that can make it fail)
    attempts = 0

    async def refused_once(listener: postgres.Listener) -> object:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionRefusedError("refused (by the test)")
        return await connect(listener)

    monkeypatch.setattr(postgres.Listener, "_connect", refused_once)
    monkeypatch.setattr(postgres.Listener, "RECONNECT_DELAY", 0.05)
    heard = asyncio.Event()
    try:
        async with store.listening(heard.set):
            # Listening once it can, it reports a change: what happened meanwhile is unheard.
            await asyncio.wait_for(heard.wait(), 5)
            heard.clear()
            await _change(store, "shop")
            await asyncio.wait_for(heard.wait(), 5)
    finally:
        await store.close()
    assert attempts == 2
