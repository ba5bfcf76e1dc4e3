"""Fixtures every test directory may use: the database backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from support import postgres

from services.common.config import ConfigError
from services.common.ports import port_range


def pytest_configure() -> None:
    """A malformed ``P13N_TEST_PORTS`` stops the run before any test, with its message,
    instead of failing every test that asks for a port."""
    try:
        port_range()
    except ConfigError as bad:
        raise pytest.UsageError(str(bad)) from None


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
    return postgres.suite_env(url)


@pytest.fixture
def postgres_env(postgres_url: str) -> dict[str, str]:
    """Settings for a test that runs only on PostgreSQL (replicas need it)."""
    return postgres.suite_env(postgres_url)


@pytest.fixture(scope="session", autouse=True)
def _state_dir_of_the_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every `p13n up` a test runs records its suite (services/common/running.py) in this
    run's own state directory, not the user's: the user's suites stay out of the tests'
    choice of data directory, and the tests' suites out of the user's. The CLI's login
    profiles (services/cli/profiles.py) likewise go to this run's configuration directory."""
    previous = {name: os.environ.get(name) for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME")}
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    for name, value in previous.items():
        if value is None:
            del os.environ[name]
        else:
            os.environ[name] = value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport() -> Any:
    """Under CI (``CI=true``) a skipped test fails: CI must run everything it can install
    (PostgreSQL, Chromium, curl, wrk, h2load), so a skip there means a missing part."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run every test: {report.longrepr}"


@pytest.fixture(autouse=True)
def _umask_restored() -> Iterator[None]:
    """The CLI and the services set umask 077 for their whole process
    (``files.restrict_umask``); a test that runs them in-process leaves the umask as it
    found it for the tests after it."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)
