"""Two offers replicas on one PostgreSQL schema: a personalization changed through one is
answered by the other within a second, also when the notification is lost (issue 14).

Both replicas are the production service (``lifespan``) in this process, each with its own
pool, listener and compiled cache, sharing one stand-in profile service.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.protobuf import field_mask_pb2, json_format
from p13n.offers.v1 import personalization_config_service_pb2 as api
from p13n.offers.v1 import personalization_pb2
from support.listening import HeldReconnects, terminate_listeners
from support.offers_harness import Offers, Visitor, editor, json_of, running_replicas

from services.common.config import Settings
from services.offers.catalog import Catalog
from services.offers.store import channel

DELIVERY_BOUND = 1.0  # seconds (issue 14: "served by every replica within 1 s")
EVENT = {"td_client_id": "c-1"}


def banner(text: str) -> dict[str, object]:
    return {
        "name": "Homepage",
        "trigger_events": ["page_view"],
        "sections": [{"name": "Welcome", "payload": [{"name": "message", "static": text}]}],
    }


@pytest.fixture
async def replicas(
    tmp_path: Path, postgres_env: dict[str, str]
) -> AsyncIterator[tuple[Offers, Offers]]:
    async with running_replicas(tmp_path, 2, postgres_env) as (a, b):
        yield a, b


async def message(replica: Offers, ps: str) -> str:
    """The welcome message the replica's public path answers now."""
    answer = json.loads(json_of(await replica.public(ps, EVENT)))
    text: str = answer["offers"]["Welcome"]["attributes"]["message"]
    return text


async def change(replica: Offers, ps: str, personalization_id: str, text: str) -> None:
    sections = json_format.ParseDict(banner(text), personalization_pb2.Personalization())
    await replica.config.UpdatePersonalization(
        api.UpdatePersonalizationRequest(
            parent_segment_id=ps,
            personalization_id=personalization_id,
            personalization=sections,
            update_mask=field_mask_pb2.FieldMask(paths=["sections"]),
        ),
        metadata=editor(),
    )


async def answered_within_the_bound(replica: Offers, ps: str, text: str) -> None:
    """Fails unless the replica's public answer carries ``text`` within the bound."""
    started = time.monotonic()
    while (found := await message(replica, ps)) != text:
        elapsed = time.monotonic() - started
        assert elapsed < DELIVERY_BOUND, f"still {found!r} after {elapsed:.2f} s"
        await asyncio.sleep(0.01)
    # The answer that carried it counts too: it may have come late.
    elapsed = time.monotonic() - started
    assert elapsed < DELIVERY_BOUND, f"{text!r} answered only after {elapsed:.2f} s"


async def a_shop(a: Offers, b: Offers, catalog: Catalog) -> tuple[str, str]:
    """A parent segment with one personalization, compiled by both replicas."""
    ps = a.segment(catalog)
    a.profile.visitors[ps] = Visitor(matched_events=["page_view"])
    created = await a.create(ps, banner("v1"))
    assert await message(a, ps) == "v1"
    assert await message(b, ps) == "v1"
    return ps, created.id


async def test_a_change_through_one_replica_is_answered_by_the_other_within_a_second(
    replicas: tuple[Offers, Offers], catalog: Catalog
) -> None:
    a, b = replicas
    ps, personalization_id = await a_shop(a, b, catalog)
    await change(a, ps, personalization_id, "v2")
    assert await message(a, ps) == "v2"  # the writer's own cache, at once
    await answered_within_the_bound(b, ps, "v2")
    await change(b, ps, personalization_id, "v3")  # and the other way round
    await answered_within_the_bound(a, ps, "v3")


async def test_a_lost_notification_is_caught_by_the_version_check_within_a_second(
    replicas: tuple[Offers, Offers],
    catalog: Catalog,
    postgres_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The listening sessions are ended and kept from reconnecting while A writes: only
    B's periodic version check can learn of the change."""
    a, b = replicas
    ps, personalization_id = await a_shop(a, b, catalog)
    url = postgres_env["P13N_DATABASE_URL"]
    schema = Settings.from_env(postgres_env).database_schema("offers")
    held = HeldReconnects(monkeypatch)
    assert await terminate_listeners(url, channel(schema)) == 2
    await held.until_waiting(2)
    try:
        await change(a, ps, personalization_id, "v2")
        await answered_within_the_bound(b, ps, "v2")
    finally:
        held.release()


async def test_a_configuration_change_reaches_both_replicas_through_track(
    replicas: tuple[Offers, Offers], catalog: Catalog
) -> None:
    """The other key of the compiled cache: the configuration version Track answers with.
    A personalization that no longer fits the new configuration stops answering on both."""
    a, b = replicas
    await a_shop(a, b, catalog)  # one more parent segment compiled beside it
    broken = a.segment(catalog)
    a.profile.visitors[broken] = Visitor(matched_events=["page_view"])
    await a.create(
        broken,
        {
            "name": "Tiered",
            "trigger_events": ["page_view"],
            "sections": [{"name": "Tier", "payload": [{"name": "t", "attribute": "tier"}]}],
        },
    )
    for replica in (a, b):
        assert "Tier" in json.loads(json_of(await replica.public(broken, EVENT)))["offers"]
    without_tier = {k: v for k, v in catalog.attributes.items() if k != "tier"}
    a.change_config(broken, Catalog(without_tier, catalog.segments, catalog.events))
    for replica in (a, b):
        assert json.loads(json_of(await replica.public(broken, EVENT))) == {"offers": {}}
