"""What the data-path handlers need of a store: the seam a second backend plugs into.

``ProfileServicer``, ``IngestServicer`` and ImportSegmentMembers are typed against
``ProfileStore`` only; ``sqlite_profile.SqliteProfileStore`` is today's implementation (its
writes are units of the group-commit writer, its reads one hop to the database thread), and
a PostgreSQL one is a second class beside it, not an edit of the handlers.

What any implementation must guarantee:

- Each write call (``track``, ``ingest``, ``import_attributes``, ``import_members``) is
  atomic: all of it or none, validated against the configuration committed at that moment;
  a refused request (a record without a usable identifier, an unknown key) writes nothing.
- A write call returns only once its writes are durable (SQLite: WAL, ``synchronous=FULL``,
  one fsync shared by a batch of concurrent writes): the answer means it survives a crash.
- Writes to one parent segment's profiles are serialized: a read-modify-write of a profile
  (stitching, merges, attribute arithmetic) never interleaves with another.
- ``remaining`` is the caller's time left: a write still queued when it has passed may be
  dropped, because nobody would read its answer.
- Reads see only committed data. A parent segment of another account is ``NotFound``,
  in the API's words (``parent_segment_not_found``, ``profile_not_found``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from p13n.profile.v1 import config_service_pb2, profile_pb2
from p13n.profile.v1 import internal_service_pb2 as internal
from p13n.profile.v1 import profile_service_pb2 as api

from services.common import events
from services.common.errors import NotFound
from services.profile import attributes, proofs
from services.profile.realtime import Config
from services.profile.stitching import Identity
from services.profile.tracking import BatchValues


def profile_not_found(key: str, value: str, parent_segment_id: int | str) -> NotFound:
    """No profile carries the identifier, in the API's words (every backend's)."""
    return NotFound(f"No profile has {key} {value!r} in parent segment {parent_segment_id}")


@dataclass(frozen=True)
class ProfileView:
    """A profile as read (or, for a value known only from imports, the profile-to-be)."""

    config: Config
    canonical_id: str | None
    state: attributes.ProfileState
    identities: tuple[Identity, ...]
    batch: BatchValues


class ProfileStore(Protocol):
    """Events, profiles, the merge log and batch data of every parent segment."""

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
        """Stores the event and updates the profile it stitches to ("" account: any).

        ``proven``: the caller is not trusted (a public token, say); its verified identifiers
        need proofs.
        """
        ...

    async def preview_track(
        self,
        account_id: str,
        parent_segment_id: str,
        database: str,
        table: str,
        event: events.Event,
        now: float,
    ) -> internal.TrackResponse:
        """What ``track`` would answer, writing nothing (a dry run)."""
        ...

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
        """Stores the records for every parent segment with events on the table.

        ``proven``: the caller is not trusted; the records' verified identifiers need proofs.
        """
        ...

    async def import_attributes(
        self,
        account_id: str,
        parent_segment_id: str,
        key: str,
        records: Sequence[api.ImportRecord],
        now: float,
        first_index: int = 0,
    ) -> int:
        """Stores imported attribute values; errors name records from ``first_index``."""
        ...

    async def import_members(
        self, account_id: str, request: config_service_pb2.ImportSegmentMembersRequest, now: float
    ) -> int:
        """Records batch segment members; returns the distinct values recorded."""
        ...

    async def profile(
        self, account_id: str, parent_segment_id: str, key: str, value: str
    ) -> ProfileView:
        """The profile owning the key value; NotFound when nothing carries it."""
        ...

    async def merge_log(
        self, account_id: str, parent_segment_id: str, before: int, limit: int
    ) -> list[profile_pb2.MergeLogEntry]:
        """Up to ``limit`` entries, newest first, with ids below ``before`` (0: the newest)."""
        ...

    async def realtime_config(self, parent_segment_id: str) -> internal.RealtimeConfig:
        """A parent segment's whole configuration (for the offers service)."""
        ...

    async def event_tables(self) -> list[internal.EventTable]:
        """Every parent segment's event tables (for the auth service's preflight)."""
        ...
