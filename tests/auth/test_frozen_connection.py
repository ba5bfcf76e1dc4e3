"""An auth process whose PostgreSQL connections went silent (no reset: a failover, a NAT
that forgot them) gives up its refresh within a bound and catches up on new connections."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support.frozen_proxy import frozen_proxy

from services.auth import directory as directories
from services.auth import secrets
from services.auth.directory import MemoryDirectory
from services.auth.store import open_store
from services.common import postgres
from services.common.config import Settings
from services.common.errors import Unavailable


async def test_a_refresh_on_a_frozen_connection_gives_up_and_the_next_catches_up(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "COMMAND_TIMEOUT", 1.0)
    monkeypatch.setattr(directories, "REFRESH_TIMEOUT_SECONDS", 0.5)
    url = postgres_env["P13N_DATABASE_URL"]

    def settings(database_url: str) -> Settings:
        env = {**postgres_env, "P13N_DATA_DIR": str(tmp_path), "P13N_DATABASE_URL": database_url}
        return Settings.from_env(env)

    async with frozen_proxy(url) as (proxy, proxied):
        frozen_side = await open_store(settings(proxied))
        other = await open_store(settings(url))
        try:
            directory = MemoryDirectory(frozen_side, secrets.SecretKeys(bytes(range(32))))
            await directory.reload()
            assert proxy.freeze() >= 1
            await other.bootstrap_account("shop", "o@shop.example", "h", b"k", 0.0)
            started = time.monotonic()
            with pytest.raises(Unavailable):
                await directory.refresh_if_changed()
            # Given up at the refresh's timeout; its connection is released (terminated)
            # once asyncpg's cancellation of the statement times out too.
            # (With room for a loaded CI machine: 1.5 s nominal.)
            assert time.monotonic() - started < 0.5 + 1.0 + 2.5
            for _ in range(5):
                try:
                    await directory.refresh_if_changed()
                    break
                except Unavailable:
                    continue
            assert directory._generation == await other.generation()  # noqa: SLF001
            assert time.monotonic() - started < 5.0
        finally:
            await other.close()
            await asyncio.wait_for(frozen_side.close(), 5)
