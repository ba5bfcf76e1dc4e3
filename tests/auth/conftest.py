"""The auth store on each backend, for the tests that hold every backend to the same promises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.auth.store import SqlAuthStore, open_store
from services.common.config import Settings


@pytest.fixture
def auth_settings(tmp_path: Path, database_env: dict[str, str]) -> Settings:
    """A data directory of the test's own, once on SQLite and once on PostgreSQL."""
    return Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **database_env})


@pytest.fixture
async def auth_database(auth_settings: Settings) -> Settings:
    """``auth_settings`` after the auth service made its database there, as it does at
    start (its own store opening): the operator's commands refuse anywhere else."""
    await (await open_store(auth_settings)).close()
    return auth_settings


@pytest.fixture
async def store(auth_settings: Settings) -> AsyncIterator[SqlAuthStore]:
    """A fresh auth store, once on SQLite and once on PostgreSQL."""
    opened = await open_store(auth_settings)
    try:
        yield opened
    finally:
        await opened.close()
