from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.admin import Account
from support.suite import Suite


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    running = Suite(Path(tmp_path_factory.mktemp("suite")))
    running.start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def account(suite: Suite) -> Account:
    """An account with both feature flags on, through the real admin API."""
    return Account.create(suite)
