"""The suite every end-to-end module shares, on SQLite, or on both backends where marked.

A module marked ``pytest.mark.both_backends`` runs twice: once on a suite keeping its data
in SQLite files (the embedded default) and once on a suite keeping it in PostgreSQL (this
run's database, a schema prefix of the module's own). The others run on SQLite only: they
are about the gateway, TLS, files on disk or processes, where the store plays no part, and
running them twice would only add minutes. A module with a suite of its own asks for
``backend_env`` to get the same choice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import postgres
from support.admin import Account
from support.suite import Suite

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_env" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("both_backends") is None:
        return
    # Module scope: pytest runs a module's tests on one backend, then on the other, so each
    # module starts two suites, not one per test.
    metafunc.parametrize("backend_env", BACKENDS, indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings that select the module's backend ({} for SQLite, the default)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        return {}
    url: str = request.getfixturevalue("postgres_url")
    return postgres.suite_env(url)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, backend_env: dict[str, str]) -> Iterator[Suite]:
    running = Suite(Path(tmp_path_factory.mktemp("suite")), env=backend_env)
    running.start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def account(suite: Suite) -> Account:
    """An account with both feature flags on, through the real admin API."""
    return Account.create(suite)
