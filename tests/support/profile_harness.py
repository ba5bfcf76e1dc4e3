"""A real profile service on an ephemeral port over a real store, with an injected clock.

The store is a SQLite file, or PostgreSQL when the settings given name a database
(``database_env`` from tests/conftest.py: a test taking it runs on both backends).

The servicers are the production ones (``server.registrations``) behind the production
interceptor and access rules; only the collaborators in other services are stand-ins (the
account's feature flags, the personalizations that reference something) and time is a
``Clock`` the test moves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from google.protobuf import json_format
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import (
    config_service_pb2,
    config_service_pb2_grpc,
    ingest_service_pb2_grpc,
    internal_service_pb2,
    internal_service_pb2_grpc,
    parent_segment_pb2,
    profile_service_pb2,
    profile_service_pb2_grpc,
)
from p13n.profile.v1 import realtime_config_pb2 as pb

from services.common import identity
from services.common.callers import GATEWAY, PROFILE
from services.common.config import Settings
from services.common.events import to_struct
from services.common.server import RunningServer, serving
from services.common.sql import numbered
from services.common.storage import Database
from services.profile import backends
from services.profile import server as profile_server
from services.profile.config_rules import FLAG_SENSITIVITY
from services.profile.group_commit import GroupCommit
from services.profile.realtime import ConfigCache
from services.profile.store import database_path
from support.tls import aio_channel, also_from_gateway, server_credentials

KEY = os.urandom(32)
ACCOUNT = "1"
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def metadata(who: identity_pb2.Identity) -> tuple[tuple[str, str], ...]:
    return ((identity.IDENTITY_HEADER, identity.sign(who, KEY)),)


def editor(account: str = ACCOUNT) -> tuple[tuple[str, str], ...]:
    return metadata(identity_pb2.Identity(account_id=account, role=identity_pb2.EDITOR))


def offers() -> tuple[tuple[str, str], ...]:
    return metadata(identity.service_identity("offers"))


def api_key(account: str = ACCOUNT, role: identity_pb2.Role = identity_pb2.OWNER) -> Any:
    key_type = identity_pb2.MASTER if role == identity_pb2.OWNER else identity_pb2.WRITE_ONLY
    return metadata(identity_pb2.Identity(account_id=account, api_key_type=key_type, role=role))


@dataclass
class Service:
    """The running service, its store and stubs, and shortcuts for configuring it."""

    running: RunningServer
    db: Database | None  # SQLite only
    writer: GroupCommit | None  # SQLite only
    configs: ConfigCache
    clock: Clock
    path: Path
    config: Any
    profile: Any
    ingest: Any
    internal: Any
    channel: grpc.aio.Channel
    database_url: str | None = None  # PostgreSQL: the database, and the profile schema
    schema: str = ""

    # -- configuration, through the real ConfigService ------------------------------

    async def parent_segment(
        self, primary_key: str = "td_client_id", account: str = ACCOUNT
    ) -> str:
        created = await self.config.CreateParentSegment(
            config_service_pb2.CreateParentSegmentRequest(
                parent_segment=_parent_segment(f"Shoppers {os.urandom(4).hex()}", primary_key)
            ),
            metadata=editor(account),
        )
        return str(created.id)

    async def event(self, ps: str, name: str, database: str, table: str, **filters: str) -> None:
        await self.config.CreateEventDefinition(
            config_service_pb2.CreateEventDefinitionRequest(
                parent_segment_id=ps,
                event=pb.EventDefinition(
                    name=name,
                    database=database,
                    table=table,
                    filters=[pb.EventFilter(field=f, regex=r) for f, r in filters.items()],
                ),
            ),
            metadata=editor(),
        )

    async def attribute(self, ps: str, **fields: Any) -> None:
        await self.config.CreateAttribute(
            config_service_pb2.CreateAttributeRequest(
                parent_segment_id=ps, attribute=json_format.ParseDict(fields, pb.Attribute())
            ),
            metadata=editor(),
        )

    async def key(self, ps: str, name: str, regex: str = "", *exclusions: str, **kw: Any) -> None:
        await self.config.CreateStitchingKey(
            config_service_pb2.CreateStitchingKeyRequest(
                parent_segment_id=ps,
                stitching_key=pb.StitchingKey(
                    name=name, regex=regex, exclusions=list(exclusions), **kw
                ),
            ),
            metadata=editor(),
        )

    async def segment(self, ps: str, name: str, sensitivity: str = "NON_SENSITIVE") -> str:
        created = await self.config.CreateSegment(
            config_service_pb2.CreateSegmentRequest(
                parent_segment_id=ps,
                segment=pb.Segment(name=name, sensitivity=sensitivity),
            ),
            metadata=editor(),
        )
        return str(created.id)

    # -- the data path --------------------------------------------------------------

    async def track(
        self, ps: str, event: dict[str, Any], table: str = "page_views", dry_run: bool = False
    ) -> internal_service_pb2.TrackResponse:
        response: internal_service_pb2.TrackResponse = await self.internal.Track(
            internal_service_pb2.TrackRequest(
                parent_segment_id=ps,
                database="shop_db",
                table=table,
                event=to_struct(event),
                dry_run=dry_run,
            ),
            metadata=offers(),
        )
        return response

    async def get_profile(self, ps: str, key: str, value: str) -> Any:
        return await self.profile.GetProfile(
            profile_service_pb2.GetProfileRequest(parent_segment_id=ps, key=key, value=value),
            metadata=editor(),
        )

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Reads the committed state through a second, independent connection (or writes
        beside the service: each call is one committed transaction).

        PostgreSQL is read by a connection of its own on a thread of its own (this is
        called from the event loop's thread, which it blocks for the read, as SQLite's does).
        """
        if self.database_url is None:
            with sqlite3.connect(self.path) as other:
                return list(other.execute(sql, args).fetchall())
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, self._pg_rows(sql, *args)).result()

    async def _pg_rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        assert self.database_url is not None
        conn = await asyncpg.connect(
            self.database_url, server_settings={"search_path": self.schema}
        )
        try:
            return [tuple(r) for r in await conn.fetch(numbered(sql), *args)]
        finally:
            await conn.close()

    def table_counts(self) -> dict[str, int]:
        tables = [
            "events",
            "profiles",
            "identities",
            "imported_values",
            "segment_members",
            "merge_log",
            "skipped_values",
        ]
        return {t: self.rows(f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def _parent_segment(name: str, primary_key: str) -> parent_segment_pb2.ParentSegment:
    return parent_segment_pb2.ParentSegment(name=name, primary_key=primary_key)


async def _flags(_account_id: str) -> frozenset[str]:
    return frozenset({FLAG_SENSITIVITY})


async def _references(_parent_segment_id: str, **_reference: str) -> list[str]:
    return []


async def _credential_valid(_identity: identity_pb2.Identity) -> bool:
    return True


@contextlib.asynccontextmanager
async def running_service(
    data_dir: Path, env: dict[str, str] | None = None
) -> AsyncIterator[Service]:
    """Starts the service over ``data_dir`` (or the database ``env`` names, see
    ``database_env``); stops it and closes the store on exit."""
    configs = ConfigCache()
    clock = Clock()
    settings = Settings.from_env({"P13N_DATA_DIR": str(data_dir), **(env or {})})
    schema = settings.database_schema("profile")
    async with contextlib.AsyncExitStack() as stack:
        storage = await stack.enter_async_context(
            backends.opened(data_dir, settings.database_url, schema)
        )
        running = await stack.enter_async_context(
            serving(
                profile_server.registrations(
                    storage,
                    configs,
                    _flags,
                    _references,
                    clock,
                    credential_valid=_credential_valid,
                ),
                host="127.0.0.1",
                port=0,
                key=KEY,
                rules=profile_server.RULES,
                callers=also_from_gateway(profile_server.CALLERS),
                credentials=server_credentials(data_dir / "pki", PROFILE),
                grace=0,
            )
        )
        channel = await stack.enter_async_context(
            aio_channel(data_dir / "pki", GATEWAY, running.port, PROFILE)
        )
        yield Service(
            running=running,
            db=storage.db,
            writer=storage.writer,
            configs=configs,
            clock=clock,
            path=database_path(data_dir),
            config=config_service_pb2_grpc.ConfigServiceStub(channel),
            profile=profile_service_pb2_grpc.ProfileServiceStub(channel),
            ingest=ingest_service_pb2_grpc.IngestServiceStub(channel),
            internal=internal_service_pb2_grpc.InternalProfileServiceStub(channel),
            channel=channel,
            database_url=settings.database_url,
            schema=schema,
        )


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def proto_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (strings, bytes and messages)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deep_struct_bytes(depth: int) -> bytes:
    """A serialized Struct ``{"td_client_id": "c1", "deep": {"x": {"x": ...}}}`` nested
    ``depth`` JSON levels deep, written by hand: the protobuf runtime refuses to build it."""
    inner = proto_field(3, b"leaf")  # Value.string_value
    for _ in range(depth - 1):
        struct = proto_field(1, proto_field(1, b"x") + proto_field(2, inner))  # Struct.fields
        inner = proto_field(5, struct)  # Value.struct_value
    client = proto_field(1, proto_field(1, b"td_client_id") + proto_field(2, proto_field(3, b"c1")))
    return client + proto_field(1, proto_field(1, b"deep") + proto_field(2, inner))
