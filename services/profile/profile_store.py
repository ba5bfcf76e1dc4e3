"""What the data-path handlers need of a store: the seam a second backend plugs into.

``ProfileServicer``, ``IngestServicer`` and ImportSegmentMembers are typed against
``ProfileStore`` only; ``sql_profile.SqlProfileStore`` implements it once for both backends,
over a backend's ``Transactions`` (``sqlite_profile``: units of the group-commit writer and
reads in one hop to the database thread; ``postgres_profile``: a transaction per write on
a pool, with several replicas writing at once).

What any implementation must guarantee:

- Each write call (``track``, ``ingest``, ``import_attributes``, ``import_members``) is
  atomic: all of it or none, validated against the configuration committed at that moment;
  a refused request (a record without a usable identifier, an unknown key) writes nothing.
  An import's audit entry (``services.common.audit``) commits with its data, or neither does.
- A write call returns only once its writes are durable (SQLite: WAL, ``synchronous=FULL``,
  one fsync shared by a batch of concurrent writes; PostgreSQL: ``synchronous_commit=on``):
  the answer means it survives a crash.
- A read-modify-write of a profile (stitching, merges, attribute arithmetic) never
  interleaves with another, in this process or any other replica's (SQLite: one writer;
  PostgreSQL: row locks on the identifiers and profiles a write reads, ``postgres_profile``).
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

from services.common import audit, events
from services.common.errors import NotFound
from services.profile import attributes, proofs
from services.profile.realtime import Config
from services.profile.stitching import Identity
from services.profile.tracking import BatchValues


def profile_not_found(key: str, value: str, parent_segment_id: int | str) -> NotFound:
    """No profile carries the identifier, in the API's words (every backend's)."""
    return NotFound(f"No profile has {key} {value!r} in parent segment {parent_segment_id}")


@dataclass(frozen=True)
class Chunk:
    """Where a streamed import's chunk sits in its stream: its number (from 1) and the index
    of its first record in the whole stream."""

    number: int
    first_record: int


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
        who: audit.Author,
        parent_segment_id: str,
        key: str,
        records: Sequence[api.ImportRecord],
        now: float,
        chunk: Chunk | None = None,
    ) -> int:
        """Stores imported attribute values in ``who``'s account, with the audit entry of
        the call; a streamed ``chunk``'s errors name records from its first one."""
        ...

    async def import_members(
        self,
        who: audit.Author,
        request: config_service_pb2.ImportSegmentMembersRequest,
        now: float,
    ) -> int:
        """Records batch segment members in ``who``'s account, with the audit entry of the
        call; returns the distinct values recorded."""
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
