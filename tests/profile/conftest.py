"""Fixtures: a real profile service per test (see support.profile_harness) and a shop.

The service runs once on SQLite and once on PostgreSQL (``backend_env``, from
``database_env`` in tests/conftest.py): the PostgreSQL half of the suite takes about 15 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.profile_harness import Service, running_service


@pytest.fixture
def backend_env(database_env: dict[str, str]) -> dict[str, str]:
    """The settings selecting the store's backend: every service test runs on both
    (a test of SQLite's own machinery parametrizes this to ``[{}]``)."""
    return database_env


@pytest.fixture
async def service(tmp_path: Path, backend_env: dict[str, str]) -> AsyncIterator[Service]:
    async with running_service(tmp_path, backend_env) as running:
        yield running


@pytest.fixture
async def shop(service: Service) -> str:
    """A parent segment keyed by td_client_id (primary) and user_id, with one attribute of
    each kind on page views."""
    ps = await service.parent_segment()
    await service.key(ps, "user_id", "u[0-9]+", "u0")
    await service.event(ps, "page_view", "shop_db", "page_views")
    await service.event(ps, "product_view", "shop_db", "page_views", td_path="/products/.*")
    await service.attribute(
        ps,
        name="views",
        type="COUNTER",
        event="page_view",
        counter={"window": "total"},
    )
    await service.attribute(
        ps,
        name="last_path",
        type="SINGLE",
        event="page_view",
        field="td_path",
        sensitivity="NON_SENSITIVE",
    )
    await service.attribute(
        ps,
        name="recent",
        type="LIST",
        event="product_view",
        list={
            "max_items": 100,
            "expire_days": 30,
            "aggregations": [
                {"name": "products", "field": "product", "sensitivity": "NON_SENSITIVE"}
            ],
        },
    )
    await service.attribute(ps, name="tier", type="IMPORTED", sensitivity="SENSITIVE")
    return ps
