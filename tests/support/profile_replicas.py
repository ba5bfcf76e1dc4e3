"""Replicas of the profile store on one PostgreSQL schema, for tests of their races.

Each replica is what a profile process opens (``backends.opened``: its own pool, its own
configuration cache); writes go through ``SqlProfileStore``, the store the handlers use.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common import events
from services.common.config import Settings
from services.profile import backends, proofs
from services.profile.config_store import ATTRIBUTES, EVENTS, STITCHING_KEYS
from services.profile.realtime import ConfigCache
from services.profile.sql_profile import SqlProfileStore

ACCOUNT = "1"

Replica = tuple[SqlProfileStore, backends.Storage]


@contextlib.asynccontextmanager
async def replicas(
    tmp_path: Path, env: dict[str, str], count: int = 2
) -> AsyncIterator[list[Replica]]:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **env})
    async with contextlib.AsyncExitStack() as stack:
        opened = []
        for _ in range(count):
            storage = await stack.enter_async_context(
                backends.opened(
                    tmp_path, settings.database_url, settings.database_schema("profile")
                )
            )
            opened.append((SqlProfileStore(storage.transactions, ConfigCache()), storage))
        yield opened


async def shop(
    storage: backends.Storage, keys: Sequence[str] = ("user_id",), name: str = "Shoppers"
) -> str:
    """A parent segment keyed by td_client_id and ``keys``, counting views of shop.views."""
    async with storage.configs.writing() as writer:
        ps = await writer.create_parent_segment(ACCOUNT, name, "", "td_client_id", 1.0)
        segment = int(ps.id)
        for key in keys:
            await writer.insert(STITCHING_KEYS, segment, pb.StitchingKey(name=key))
        await writer.insert(
            EVENTS, segment, pb.EventDefinition(name="view", database="shop", table="views")
        )
        views = pb.Attribute(name="views", type=pb.COUNTER, event="view")
        views.counter.window = "total"
        await writer.insert(ATTRIBUTES, segment, views)
    return ps.id


async def track(
    store: SqlProfileStore,
    ps: str,
    event: events.Event,
    now: float,
    proven: proofs.Proofs | None = None,
) -> Any:
    return await store.track(
        ACCOUNT, ps, "shop", "views", (event, events.encode(event)), now, None, proven
    )


async def rows(storage: backends.Storage, query: str, *args: object) -> list[Any]:
    async with storage.reading() as sql:
        return list(await sql.fetch(query, *args))
