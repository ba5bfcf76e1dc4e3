"""Compiled personalizations per parent segment, rebuilt only when something changed.

Every Track answer names the version of the parent segment's configuration it used; the
store numbers the writes to the personalizations (a revision per parent segment, which
replicas learn of from each other: ``services.offers.following``). An entry serves while
its configuration is at least as new as the request's and no newer revision is known than
the one it was built from, so a request does no database read, no RPC and no compiling in
the common case. When it must rebuild, concurrent requests for the same parent segment
wait for one rebuild instead of each fetching the configuration.

With several profile replicas, a Track answer may name a configuration version that the
replica answering GetRealtimeConfig does not have yet (for the moment it takes to learn of
it). A request that waited for a rebuild started after it arrived takes that rebuild's
entry even so: otherwise every waiting request would fetch and compile once more, one
after the other, until the lagging replica caught up.

Compiling is pure CPU (a few milliseconds for a large configuration, regexes included)
and runs on the event loop: handing it to a thread would not shorten it under the GIL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from p13n.profile.v1 import internal_service_pb2 as profile_api

from services.common.errors import Unavailable, parent_segment_not_found
from services.offers.catalog import Catalog
from services.offers.engine import CompiledConfig, compile_each
from services.offers.errors import InvalidConfigError
from services.offers.profile_client import catalog_of
from services.offers.store import PersonalizationStore

log = logging.getLogger(__name__)

FetchConfig = Callable[[str, float], Awaitable[profile_api.RealtimeConfig]]
"""Fetches a parent segment's configuration, given the seconds the call may take."""


@dataclass(frozen=True)
class Compiled:
    """One parent segment's personalizations, ready to answer."""

    account_id: str
    config_version: int
    revision: int
    build: int  # numbers the rebuilds of this cache: which came after a request started
    catalog: Catalog
    config: CompiledConfig
    errors: tuple[InvalidConfigError, ...]


class CompiledCache:
    def __init__(self, fetch_config: FetchConfig, store: PersonalizationStore) -> None:
        self._fetch_config = fetch_config
        self._store = store
        self._entries: dict[str, Compiled] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._builds = 0

    async def get(
        self, parent_segment_id: str, account_id: str, config_version: int, budget: float
    ) -> Compiled:
        """The compiled personalizations of a parent segment of ``account_id``.

        ``config_version`` is the configuration version the request was computed with;
        NOT_FOUND when the parent segment belongs to another account.
        """
        entry = self._fresh(parent_segment_id, config_version)
        if entry is None:
            try:
                async with asyncio.timeout(budget):
                    entry = await self._rebuild(parent_segment_id, config_version, budget)
            except TimeoutError:
                raise Unavailable(
                    "The profile service did not answer in time; retry shortly",
                    reason="PROFILE_UNAVAILABLE",
                ) from None
        if entry.account_id != account_id:
            raise parent_segment_not_found(parent_segment_id)
        return entry

    async def _rebuild(
        self, parent_segment_id: str, config_version: int, budget: float
    ) -> Compiled:
        lock = self._locks.setdefault(parent_segment_id, asyncio.Lock())
        waiting_since = self._builds
        async with lock:
            # Another request may have rebuilt it while this one waited: that entry is as
            # new as the profile service could tell, even if older than this request's.
            entry = self._entries.get(parent_segment_id)
            if entry is not None and (
                entry.build > waiting_since
                and entry.revision >= self._store.revision(parent_segment_id)
            ):
                return entry
            return self._fresh(parent_segment_id, config_version) or await self._build(
                parent_segment_id, budget
            )

    def _fresh(self, parent_segment_id: str, config_version: int) -> Compiled | None:
        entry = self._entries.get(parent_segment_id)
        if (
            entry is None
            or entry.config_version < config_version
            or entry.revision < self._store.revision(parent_segment_id)
        ):
            return None
        return entry

    async def _build(self, parent_segment_id: str, budget: float) -> Compiled:
        config = await self._fetch_config(parent_segment_id, budget)
        # Its revision is read before the personalizations (``PersonalizationStore.snapshot``):
        # a write in between makes the entry look older than it is, so it is rebuilt once
        # more, never served stale.
        snapshot = await self._store.snapshot(parent_segment_id)
        catalog = catalog_of(config)
        compiled, errors = compile_each(catalog, [r.personalization() for r in snapshot.records])
        for error in errors:
            # Valid when saved, broken by a later change of the parent segment's
            # configuration: it answers nothing until it is fixed.
            log.warning(
                "parent segment %s: skipping a personalization that no longer compiles: %s",
                parent_segment_id,
                error,
            )
        self._builds += 1
        entry = Compiled(
            config.account_id,
            config.version,
            snapshot.revision,
            self._builds,
            catalog,
            compiled,
            tuple(errors),
        )
        self._entries[parent_segment_id] = entry
        return entry
