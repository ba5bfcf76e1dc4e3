"""The bench's SQL generator of profiles (bench/pg.py) makes profiles the service uses.

A suite on PostgreSQL gets visitor 0 through the Ingest API, then visitors 1 to 39 from
the generator. Each is found by the load's own ``td_client_id`` with visitor 0's
attributes, and an event for one of them updates that profile instead of making another:
the service reads what the generator wrote as its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import postgres

from bench import backends, pg, workload
from bench.configure import ConfigurationError, Configured, configure
from bench.http import call
from bench.preload import ingest_profiles
from bench.suite import Suite

GROWN = 40


@pytest.fixture
def suite(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Suite, str]]:
    prefix = postgres.schema_prefix()
    running = Suite(tmp_path, extra_env=pg.suite_env(postgres_url, prefix))
    running.start()
    try:
        assert backends.missing_schemas(postgres_url, prefix) == []  # every service on it
        yield running, prefix
    finally:
        running.stop()


def _profile(setup: Configured, visitor: int) -> dict[str, Any]:
    path = f"/v1/parent_segments/{setup.parent_segment_id}/profiles/td_client_id/"
    found: dict[str, Any] = setup.admin.ok("GET", path + workload.client_id(visitor))
    return found


def _attributes(profile: dict[str, Any]) -> dict[str, Any]:
    return {a["name"]: a["value"] for a in profile["attributes"]}


def test_grown_profiles_are_read_and_updated_by_the_service(
    suite: tuple[Suite, str], postgres_url: str
) -> None:
    running, prefix = suite
    setup = configure(running)
    ingest_profiles(running.data_port, setup, 0, 1)

    grown = pg.grow_profiles(
        postgres_url, prefix, setup.account_id, setup.parent_segment_id, 1, GROWN
    )

    assert grown.records == GROWN - 1
    first = _profile(setup, 0)
    for visitor in (1, 17, GROWN - 1):
        profile = _profile(setup, visitor)
        assert profile["canonical_id"] == workload.client_id(visitor)
        assert [(i["key"], i["value"]) for i in profile["identities"]] == [
            ("td_client_id", workload.client_id(visitor))
        ]
        assert _attributes(profile) == _attributes(first)
    # The service takes a grown profile as its own: one more view on it, no new profile.
    event = workload.product_event(GROWN - 1, random.Random(1))
    headers = {"authorization": f"TD1 {setup.write_key}"}
    path = f"/records/{workload.DATABASE}/{workload.PRODUCT_TABLE}"
    assert call("POST", running.data_port, path, {"records": [event]}, headers).status == 200
    after = _attributes(_profile(setup, GROWN - 1))
    assert after["product_views_7d"] == _attributes(first)["product_views_7d"] + 1
    with pytest.raises(ConfigurationError, match="-> 404"):
        _profile(setup, GROWN)  # nobody beyond the grown range
