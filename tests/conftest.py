"""Fixtures every test directory may use: the database backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import postgres


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """This run's PostgreSQL database (created on first use, dropped at the end)."""
    yield from postgres.database_for_run()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings that select a backend: each test asking for it runs on both.

    SQLite needs nothing (files under the data directory); PostgreSQL gets this run's
    database and a schema prefix of the test's own.
    """
    if request.param == "sqlite":
        return {}
    url: str = request.getfixturevalue("postgres_url")
    return {"P13N_DATABASE_URL": url, "P13N_DATABASE_SCHEMA_PREFIX": postgres.schema_prefix()}


@pytest.fixture
def postgres_env(postgres_url: str) -> dict[str, str]:
    """Settings for a test that runs only on PostgreSQL (replicas need it)."""
    return {
        "P13N_DATABASE_URL": postgres_url,
        "P13N_DATABASE_SCHEMA_PREFIX": postgres.schema_prefix(),
    }
