"""The profile service's RPCs: Track, profiles, the merge log, imports, configuration snapshots.

Handlers stay thin: they decode and check the request, then hand a unit of work to the
group-commit writer (writes) or read under the store's lock (reads). The transaction logic
lives in ``tracking`` and ``imports``.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import profile_pb2, profile_service_pb2_grpc
from p13n.profile.v1 import profile_service_pb2 as api

from services.common import events
from services.common import identity as identities
from services.common.convert import timestamp
from services.common.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from services.common.paging import page_after, page_size
from services.common.storage import Database, fetch_all
from services.profile import attributes, imports, profiles, tracking
from services.profile.group_commit import GroupCommit
from services.profile.realtime import Config, ConfigCache, load_realtime_config
from services.profile.stitching import Identity

_OUTCOMES = {
    "merge": profile_pb2.MERGED,
    "refused": profile_pb2.REFUSED,
}


def caller() -> identity_pb2.Identity:
    found = identities.current.get()
    if found is None or not found.account_id:
        raise Unauthenticated("Credentials are required")
    return found


def _identity(identity: Identity) -> profile_pb2.Identity:
    return profile_pb2.Identity(
        key=identity.key, value=identity.value, first_seen=timestamp(identity.first_seen)
    )


class ProfileServicer(profile_service_pb2_grpc.ProfileServiceServicer):
    def __init__(
        self,
        db: Database,
        writer: GroupCommit,
        configs: ConfigCache,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._writer = writer
        self._configs = configs
        self._clock = clock

    async def Track(self, request: api.TrackRequest, context: Any) -> api.TrackResponse:
        event = events.checked(request.event)
        now = self._clock()  # the server's receive time; a client `time` is only kept
        caller = identities.current.get()
        account_id = caller.account_id if caller else ""
        if request.dry_run:  # plan alone: reads only, in one hop to the database thread

            def preview(conn: sqlite3.Connection) -> api.TrackResponse:
                config = tracking.config_of_account(
                    self._configs, conn, request.parent_segment_id, account_id
                )
                return tracking.plan(
                    conn, config, request.database, request.table, event[0], now
                ).response

            return await self._db.run_sync(preview)
        work = functools.partial(
            tracking.track,
            configs=self._configs,
            parent_segment_id=request.parent_segment_id,
            database=request.database,
            table=request.table,
            event=event,
            now=now,
            account_id=account_id,
        )
        return await self._writer.run_sync(work, remaining=context.time_remaining())

    def _read_profile(
        self, conn: sqlite3.Connection, account: str, request: api.GetProfileRequest
    ) -> tuple[
        Config, str | None, attributes.ProfileState, tuple[Identity, ...], tracking.BatchValues
    ]:
        """GetProfile's reads, on the database thread (``Database.run_sync``)."""
        config = imports.config_for(conn, self._configs, account, request.parent_segment_id)
        if config.key(request.key) is None:
            raise InvalidArgument(
                f"Key {request.key!r} is not a stitching key of this parent segment",
                field="key",
            )
        found = profiles.owner_of(conn, config.parent_segment_id, request.key, request.value)
        if found is not None:
            canonical, state, cluster = found.canonical_id, found.state, found.identities
        else:
            # A value known only from imports is a profile-to-be: show what it will carry.
            first_seen = profiles.batch_first_seen(
                conn, config.parent_segment_id, request.key, request.value
            )
            if first_seen is None:
                raise NotFound(
                    f"No profile has {request.key} {request.value!r} in parent segment "
                    f"{config.parent_segment_id}"
                )
            canonical = request.value if request.key == config.primary_key else None
            state, cluster = (
                attributes.ProfileState(),
                (Identity(request.key, request.value, first_seen),),
            )
        batch = tracking.batch_values(conn, config, cluster)
        return config, canonical, state, tuple(cluster), batch

    async def GetProfile(self, request: api.GetProfileRequest, context: Any) -> profile_pb2.Profile:
        account = caller().account_id
        config, canonical, state, cluster, batch = await self._db.run_sync(
            self._read_profile, account, request
        )
        values = attributes.current_values(state, config.specs, self._clock()) | batch.imported
        return profile_pb2.Profile(
            canonical_id=canonical or "",
            identities=[
                _identity(i) for i in sorted(cluster, key=lambda i: (i.first_seen, i.key, i.value))
            ],
            attributes=[
                profile_pb2.AttributeValue(
                    name=name, value=events.to_value(values[name]), sensitivity_summary=summary
                )
                for name, summary in config.summaries.items()
                if name in values
            ],
            segments=[
                profile_pb2.SegmentMembership(name=name, sensitivity=sensitivity)  # type: ignore[arg-type]
                for name, sensitivity in batch.segments
            ],
        )

    async def ListMergeLog(
        self, request: api.ListMergeLogRequest, context: Any
    ) -> api.ListMergeLogResponse:
        account = caller().account_id
        size = page_size(request.page_size)

        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            config = imports.config_for(conn, self._configs, account, request.parent_segment_id)
            return profiles.merge_log_page(
                conn, config.parent_segment_id, page_after(request.page_token), size
            )

        rows = await self._db.run_sync(read)
        return api.ListMergeLogResponse(
            entries=[
                profile_pb2.MergeLogEntry(
                    id=str(row["id"]),
                    time=timestamp(row["time"]),
                    outcome=_OUTCOMES.get(row["outcome"], profile_pb2.MERGE_OUTCOME_UNSPECIFIED),
                    surviving_profile=row["surviving_profile"],
                    absorbed_profiles=json.loads(row["absorbed_profiles"]),
                    linking_values=[
                        _identity(Identity(k, v, t))
                        for k, v, t in json.loads(row["linking_values"])
                    ],
                    reason=row["reason"],
                )
                for row in rows[:size]
            ],
            next_page_token=str(rows[size - 1]["id"]) if len(rows) > size else "",
        )

    async def ImportAttributes(
        self, request: api.ImportAttributesRequest, context: Any
    ) -> api.ImportAttributesResponse:
        work = functools.partial(
            imports.import_attributes,
            configs=self._configs,
            account_id=caller().account_id,
            parent_segment_id=request.parent_segment_id,
            key_name=request.key,
            records=request.records,
            now=self._clock(),
        )
        return api.ImportAttributesResponse(imported=await self._writer.run(work))

    async def StreamImportAttributes(
        self, request_iterator: AsyncIterator[api.StreamImportAttributesRequest], context: Any
    ) -> AsyncIterator[api.StreamImportAttributesResponse]:
        """Each chunk is validated and committed on its own, then reported: a failed chunk
        stops the stream with an error naming the record, and what was reported stays."""
        who = caller()
        # Reached directly with an API key (client streaming cannot pass the JSON gateway),
        # so the role is checked here: a write-only key may send events, not import data.
        if who.role < identity_pb2.EDITOR:
            raise PermissionDenied(reason="ROLE_TOO_LOW")
        target: tuple[str, str] | None = None
        total = 0
        async for chunk in request_iterator:
            named = (chunk.parent_segment_id, chunk.key)
            if target is None:
                if not all(named):
                    raise InvalidArgument(
                        "The first chunk must name parent_segment_id and key", field="key"
                    )
                target = named
            elif any(named) and named != target:
                raise InvalidArgument(
                    "Every chunk must name the first chunk's parent segment and key, or neither",
                    field="key",
                )
            work = functools.partial(
                imports.import_attributes,
                configs=self._configs,
                account_id=who.account_id,
                parent_segment_id=target[0],
                key_name=target[1],
                records=chunk.records,
                now=self._clock(),
                first_index=total,
            )
            total += await self._writer.run(work)
            yield api.StreamImportAttributesResponse(imported=total)
        if target is None:
            yield api.StreamImportAttributesResponse(imported=0)

    async def GetRealtimeConfig(
        self, request: api.GetRealtimeConfigRequest, context: Any
    ) -> api.RealtimeConfig:
        return await self._db.run_sync(load_realtime_config, request.parent_segment_id)

    async def ListEventTables(
        self, request: api.ListEventTablesRequest, context: Any
    ) -> api.ListEventTablesResponse:
        async with self._db.reading() as db:
            rows = await fetch_all(
                db,
                "SELECT DISTINCT parent_segment_id, database, table_name FROM event_definitions",
            )
        return api.ListEventTablesResponse(
            tables=[
                api.EventTable(
                    parent_segment_id=str(r["parent_segment_id"]),
                    database=r["database"],
                    table=r["table_name"],
                )
                for r in rows
            ]
        )
