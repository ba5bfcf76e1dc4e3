"""The auth store on each backend, for the tests that hold every backend to the same promises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.auth.store import SqlAuthStore, open_store
from services.common.config import Settings


def settings_for(tmp_path: Path, database_env: dict[str, str]) -> Settings:
    """Settings of a data directory of the test's own, on the backend ``database_env`` names."""
    return Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **database_env})


@pytest.fixture
async def store(tmp_path: Path, database_env: dict[str, str]) -> AsyncIterator[SqlAuthStore]:
    """A fresh auth store, once on SQLite and once on PostgreSQL."""
    opened = await open_store(settings_for(tmp_path, database_env))
    try:
        yield opened
    finally:
        await opened.close()
