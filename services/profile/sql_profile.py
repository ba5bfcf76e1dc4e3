"""The data path's store, written once over ``Sql``: each call is one transaction.

Writes and reads are coroutines over ``Sql`` (the transaction logic of each is in
``tracking`` and ``imports``, the SQL of profiles in ``profiles`` and of configuration in
``realtime_store``); a ``Transactions`` runs them on its backend:

- SQLite (``sqlite_profile``): a write is a unit of the group-commit writer and a read one
  hop to the database thread, the coroutine run whole there (``ThreadSqlite``,
  ``run_to_completion``);
- PostgreSQL (``postgres_profile``): a write is a READ COMMITTED transaction that locks what
  it reads, run again when it meets a conflict with another replica's write; a read one
  consistent snapshot.

A write may run more than once but commits once: what it logs waits for the commit
(``tracking.AfterCommit``), so a retried attempt logs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

from p13n.profile.v1 import config_service_pb2, profile_pb2
from p13n.profile.v1 import internal_service_pb2 as internal
from p13n.profile.v1 import profile_service_pb2 as api

from services.common import audit, events
from services.common.convert import timestamp
from services.common.errors import InvalidArgument
from services.common.sql import Row, Sql
from services.profile import attributes, imports, profiles, proofs, realtime_store, tracking
from services.profile.messages import identity_message
from services.profile.profile_store import Chunk, ProfileStore, ProfileView, profile_not_found
from services.profile.realtime import ConfigCache
from services.profile.stitching import Identity

T = TypeVar("T")
Work = Callable[[Sql], Coroutine[Any, Any, T]]

_OUTCOMES = {
    "merge": profile_pb2.MERGED,
    "refused": profile_pb2.REFUSED,
}


class Transactions(Protocol):
    """How a backend runs a unit of work as one transaction."""

    async def write(self, work: Work[T], remaining: float | None = None) -> T:
        """``work`` in a write transaction; returns once it is durably committed. It may run
        more than once (a transaction retried after a conflict) but commits once."""
        ...

    async def read(self, work: Work[T]) -> T:
        """``work`` on one consistent view of committed data."""
        ...

    async def write_unlocked(self, work: Work[T | None]) -> T | None:
        """``work`` outside any transaction, for a write that takes no lock and whose one
        writing statement commits all of it or nothing (``tracking.track_unlocked``). None
        when the backend has no such path, or the write did not go through (nothing is
        written then): the caller runs it with ``write``."""
        ...


class SqlProfileStore(ProfileStore):
    """``ProfileStore`` over any backend's ``Transactions``."""

    def __init__(self, transactions: Transactions, configs: ConfigCache) -> None:
        self._transactions = transactions
        self._configs = configs

    async def track(
        self,
        account_id: str,
        parent_segment_id: str,
        database: str,
        table: str,
        event: tuple[events.Event, str],
        now: float,
        remaining: float | None,
        proven: proofs.Proofs | None = None,
    ) -> internal.TrackResponse:
        # The same Track, unlocked where the backend can (``Transactions.write_unlocked``).
        args = (self._configs, parent_segment_id, database, table, event, now, account_id, proven)
        answer = await self._transactions.write_unlocked(
            lambda sql: tracking.track_unlocked(sql, *args)
        )
        if answer is not None:
            return answer
        return await self._write_then_log(
            lambda sql, after: tracking.track(sql, *args, after), remaining
        )

    async def _write_then_log(
        self,
        work: Callable[[Sql, tracking.AfterCommit], Coroutine[Any, Any, T]],
        remaining: float | None,
    ) -> T:
        """``work`` as a write; what it hands to log is logged once it committed."""
        after: tracking.AfterCommit = []

        async def attempt(sql: Sql) -> T:
            after.clear()  # an attempt rolled back logs nothing
            return await work(sql, after)

        result = await self._transactions.write(attempt, remaining)
        for note in after:
            note()
        return result

    async def preview_track(
        self,
        account_id: str,
        parent_segment_id: str,
        database: str,
        table: str,
        event: events.Event,
        now: float,
    ) -> internal.TrackResponse:
        async def preview(sql: Sql) -> internal.TrackResponse:
            # Plan alone: reads only.
            config = await tracking.config_of_account(
                self._configs, sql, parent_segment_id, account_id
            )
            return (await tracking.plan(sql, config, database, table, event, now)).response

        return await self._transactions.read(preview)

    async def ingest(
        self,
        account_id: str,
        database: str,
        table: str,
        records: Sequence[tuple[events.Event, str]],
        now: float,
        remaining: float | None,
        proven: proofs.Proofs | None = None,
    ) -> int:
        return await self._write_then_log(
            lambda sql, after: tracking.ingest(
                sql, self._configs, account_id, database, table, records, now, proven, after
            ),
            remaining,
        )

    async def import_attributes(
        self,
        who: audit.Author,
        parent_segment_id: str,
        key: str,
        records: Sequence[api.ImportRecord],
        now: float,
        chunk: Chunk | None = None,
    ) -> int:
        return await self._transactions.write(
            lambda sql: imports.import_attributes(
                sql, self._configs, who, parent_segment_id, key, records, now, chunk
            )
        )

    async def import_members(
        self,
        who: audit.Author,
        request: config_service_pb2.ImportSegmentMembersRequest,
        now: float,
    ) -> int:
        return await self._transactions.write(
            lambda sql: imports.import_members(sql, self._configs, who, request, now)
        )

    async def profile(
        self, account_id: str, parent_segment_id: str, key: str, value: str
    ) -> ProfileView:
        return await self._transactions.read(
            lambda sql: self._read_profile(sql, account_id, parent_segment_id, key, value)
        )

    async def _read_profile(
        self, sql: Sql, account: str, parent_segment_id: str, key: str, value: str
    ) -> ProfileView:
        """GetProfile's reads."""
        config = await imports.config_for(sql, self._configs, account, parent_segment_id)
        if config.key(key) is None:
            raise InvalidArgument(
                f"Key {key!r} is not a stitching key of this parent segment", field="key"
            )
        found = await profiles.owner_of(sql, config.parent_segment_id, key, value)
        if found is not None:
            canonical, state, cluster = found.canonical_id, found.state, found.identities
        else:
            # A value known only from imports is a profile-to-be: show what it will carry.
            first_seen = await profiles.batch_first_seen(sql, config.parent_segment_id, key, value)
            if first_seen is None:
                raise profile_not_found(key, value, config.parent_segment_id)
            canonical = value if key == config.primary_key else None
            state, cluster = attributes.ProfileState(), (Identity(key, value, first_seen),)
        batch = await tracking.batch_values(sql, config, cluster)
        return ProfileView(config, canonical, state, tuple(cluster), batch)

    async def merge_log(
        self, account_id: str, parent_segment_id: str, before: int, limit: int
    ) -> list[profile_pb2.MergeLogEntry]:
        async def read(sql: Sql) -> Sequence[Row]:
            config = await imports.config_for(sql, self._configs, account_id, parent_segment_id)
            # merge_log_page reads one more than it is asked for (to tell a next page).
            return await profiles.merge_log_page(sql, config.parent_segment_id, before, limit - 1)

        return [_merge_entry(row) for row in await self._transactions.read(read)]

    async def realtime_config(self, parent_segment_id: str) -> internal.RealtimeConfig:
        return await self._transactions.read(
            lambda sql: realtime_store.load_realtime_config(sql, parent_segment_id)
        )

    async def event_tables(self) -> list[internal.EventTable]:
        return [
            internal.EventTable(
                parent_segment_id=str(r["parent_segment_id"]),
                database=r["database"],
                table=r["table_name"],
            )
            for r in await self._transactions.read(realtime_store.event_tables)
        ]


def _merge_entry(row: Row) -> profile_pb2.MergeLogEntry:
    return profile_pb2.MergeLogEntry(
        id=str(row["id"]),
        time=timestamp(row["time"]),
        outcome=_OUTCOMES.get(row["outcome"], profile_pb2.MERGE_OUTCOME_UNSPECIFIED),
        surviving_profile=row["surviving_profile"],
        absorbed_profiles=json.loads(row["absorbed_profiles"]),
        linking_values=[
            identity_message(Identity(k, v, t)) for k, v, t in json.loads(row["linking_values"])
        ],
        reason=row["reason"],
    )
