"""The data path's store in SQLite: units of the group-commit writer, reads in one hop.

Writes run as units of ``GroupCommit`` (one transaction, one fsync for every unit waiting);
the transaction logic of each is in ``tracking`` and ``imports``, the SQL of profiles in
``profiles`` and of configuration in ``realtime_store``. Reads run whole on the database
thread under the store's lock (``Database.run_sync``): one hop for all their statements.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from p13n.profile.v1 import config_service_pb2, profile_pb2
from p13n.profile.v1 import internal_service_pb2 as internal
from p13n.profile.v1 import profile_service_pb2 as api

from services.common import events
from services.common.convert import timestamp
from services.common.errors import InvalidArgument
from services.common.storage import Database, query_all
from services.profile import attributes, imports, profiles, proofs, realtime_store, tracking
from services.profile.group_commit import GroupCommit
from services.profile.messages import identity_message
from services.profile.profile_store import ProfileStore, ProfileView, profile_not_found
from services.profile.realtime import ConfigCache
from services.profile.stitching import Identity

_OUTCOMES = {
    "merge": profile_pb2.MERGED,
    "refused": profile_pb2.REFUSED,
}


class SqliteProfileStore(ProfileStore):
    """``ProfileStore`` over the profile service's SQLite ``Database`` and its writer."""

    def __init__(self, db: Database, writer: GroupCommit, configs: ConfigCache) -> None:
        self._db = db
        self._writer = writer
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
        return await self._writer.run_sync(
            lambda conn: tracking.track(
                conn,
                self._configs,
                parent_segment_id,
                database,
                table,
                event,
                now,
                account_id,
                proven,
            ),
            remaining=remaining,
        )

    async def preview_track(
        self,
        account_id: str,
        parent_segment_id: str,
        database: str,
        table: str,
        event: events.Event,
        now: float,
    ) -> internal.TrackResponse:
        def preview(conn: sqlite3.Connection) -> internal.TrackResponse:
            # Plan alone: reads only, in one hop to the database thread.
            config = tracking.config_of_account(self._configs, conn, parent_segment_id, account_id)
            return tracking.plan(conn, config, database, table, event, now).response

        return await self._db.run_sync(preview)

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
        return await self._writer.run_sync(
            lambda conn: tracking.ingest(
                conn, self._configs, account_id, database, table, records, now, proven
            ),
            remaining=remaining,
        )

    async def import_attributes(
        self,
        account_id: str,
        parent_segment_id: str,
        key: str,
        records: Sequence[api.ImportRecord],
        now: float,
        first_index: int = 0,
    ) -> int:
        return await self._writer.run(
            lambda conn: imports.import_attributes(
                conn, self._configs, account_id, parent_segment_id, key, records, now, first_index
            )
        )

    async def import_members(
        self, account_id: str, request: config_service_pb2.ImportSegmentMembersRequest, now: float
    ) -> int:
        return await self._writer.run(
            lambda conn: imports.import_members(conn, self._configs, account_id, request, now)
        )

    async def profile(
        self, account_id: str, parent_segment_id: str, key: str, value: str
    ) -> ProfileView:
        return await self._db.run_sync(
            self._read_profile, account_id, parent_segment_id, key, value
        )

    def _read_profile(
        self, conn: sqlite3.Connection, account: str, parent_segment_id: str, key: str, value: str
    ) -> ProfileView:
        """GetProfile's reads, on the database thread."""
        config = imports.config_for(conn, self._configs, account, parent_segment_id)
        if config.key(key) is None:
            raise InvalidArgument(
                f"Key {key!r} is not a stitching key of this parent segment", field="key"
            )
        found = profiles.owner_of(conn, config.parent_segment_id, key, value)
        if found is not None:
            canonical, state, cluster = found.canonical_id, found.state, found.identities
        else:
            # A value known only from imports is a profile-to-be: show what it will carry.
            first_seen = profiles.batch_first_seen(conn, config.parent_segment_id, key, value)
            if first_seen is None:
                raise profile_not_found(key, value, config.parent_segment_id)
            canonical = value if key == config.primary_key else None
            state, cluster = attributes.ProfileState(), (Identity(key, value, first_seen),)
        batch = tracking.batch_values(conn, config, cluster)
        return ProfileView(config, canonical, state, tuple(cluster), batch)

    async def merge_log(
        self, account_id: str, parent_segment_id: str, before: int, limit: int
    ) -> list[profile_pb2.MergeLogEntry]:
        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            config = imports.config_for(conn, self._configs, account_id, parent_segment_id)
            # merge_log_page reads one more than it is asked for (to tell a next page).
            return profiles.merge_log_page(conn, config.parent_segment_id, before, limit - 1)

        return [_merge_entry(row) for row in await self._db.run_sync(read)]

    async def realtime_config(self, parent_segment_id: str) -> internal.RealtimeConfig:
        return await self._db.run_sync(realtime_store.load_realtime_config, parent_segment_id)

    async def event_tables(self) -> list[internal.EventTable]:
        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return query_all(
                conn,
                "SELECT DISTINCT parent_segment_id, database, table_name FROM event_definitions",
            )

        return [
            internal.EventTable(
                parent_segment_id=str(r["parent_segment_id"]),
                database=r["database"],
                table=r["table_name"],
            )
            for r in await self._db.run_sync(read)
        ]


def _merge_entry(row: sqlite3.Row) -> profile_pb2.MergeLogEntry:
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
