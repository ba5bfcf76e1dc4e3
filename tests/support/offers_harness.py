"""A real offers service on an ephemeral port, with a stand-in for profile.

The offers service is the production one (``lifespan``: interceptor, access rules,
store, cache). The profile service is a fake the test scripts, served behind the
production interceptor with the production rules for the RPCs offers calls, so a call that
offers makes with the wrong identity is refused here as it would be in the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.api import httpbody_pb2
from google.protobuf import json_format
from p13n.auth.v1 import identity_pb2
from p13n.offers.v1 import internal_service_pb2_grpc as offers_internal_pb2_grpc
from p13n.offers.v1 import (
    personalization_config_service_pb2,
    personalization_config_service_pb2_grpc,
    personalization_pb2,
    personalize_service_pb2,
    personalize_service_pb2_grpc,
)
from p13n.profile.v1 import internal_service_pb2 as profile_internal_pb2
from p13n.profile.v1 import internal_service_pb2_grpc as profile_internal_pb2_grpc
from p13n.profile.v1 import realtime_config_pb2 as pb
from typing_extensions import override

from services.common import identity
from services.common.callers import GATEWAY, OFFERS, PROFILE, Callers
from services.common.config import Settings
from services.common.errors import InvalidArgument, NotFound
from services.common.server import Registration, RunningServer, serving
from services.offers import server as offers_server
from services.offers.catalog import AttributeType, Catalog, Sensitivity
from services.profile import server as profile_server
from support.tls import aio_channel, server_credentials

KEY = os.urandom(32)
ACCOUNT = "7"
OTHER_ACCOUNT = "8"
TABLE = ("shop_db", "page_views")
Metadata = tuple[tuple[str, str], ...]

_TYPES = {
    AttributeType.SINGLE: pb.SINGLE,
    AttributeType.LIST: pb.LIST,
    AttributeType.COUNTER: pb.COUNTER,
    AttributeType.IMPORTED: pb.IMPORTED,
}
_SENSITIVITIES = {
    Sensitivity.UNSPECIFIED: pb.SENSITIVITY_UNSPECIFIED,
    Sensitivity.SENSITIVE: pb.SENSITIVE,
    Sensitivity.NON_SENSITIVE: pb.NON_SENSITIVE,
}


def signed(who: identity_pb2.Identity) -> Metadata:
    return ((identity.IDENTITY_HEADER, identity.sign(who, KEY)),)


def editor(account: str = ACCOUNT) -> Metadata:
    return signed(identity_pb2.Identity(account_id=account, role=identity_pb2.EDITOR))


def token_holder(ps: str, token_type: identity_pb2.TokenType, account: str = ACCOUNT) -> Metadata:
    """What the gateway forwards for a request carrying a token of ``ps``."""
    return signed(
        identity_pb2.Identity(account_id=account, parent_segment_id=ps, token_type=token_type)
    )


PUBLIC, PRIVATE = identity_pb2.TOKEN_TYPE_PUBLIC, identity_pb2.TOKEN_TYPE_PRIVATE


def realtime_config(ps: str, catalog: Catalog, version: int, account: str) -> Any:
    """The profile service's answer for a parent segment with ``catalog``'s names."""
    return profile_internal_pb2.RealtimeConfig(
        version=version,
        parent_segment_id=ps,
        account_id=account,
        primary_key="td_client_id",
        events=[
            pb.EventDefinition(name=name, database=TABLE[0], table=TABLE[1])
            for name in sorted(catalog.events)
        ],
        attributes=[
            pb.Attribute(
                name=name,
                type=_TYPES[a.type],
                sensitivity=_SENSITIVITIES[a.sensitivity],
                list=pb.ListSettings(
                    max_items=a.max_items,
                    aggregations=[
                        pb.ListAggregation(name=g, sensitivity=_SENSITIVITIES[s])
                        for g, s in a.aggregations.items()
                    ],
                )
                if a.type is AttributeType.LIST
                else None,
            )
            for name, a in catalog.attributes.items()
        ],
        segments=[
            pb.Segment(name=name, sensitivity=_SENSITIVITIES[s])
            for name, s in catalog.segments.items()
        ],
    )


@dataclass
class Visitor:
    """What the fake Track answers for a parent segment."""

    attributes: Mapping[str, object] = field(default_factory=dict)
    segments: Iterable[str] = ()
    matched_events: Iterable[str] = ()


class FakeProfile(profile_internal_pb2_grpc.InternalProfileServiceServicer):
    def __init__(self) -> None:
        self.configs: dict[str, Any] = {}
        self.visitors: dict[str, Visitor] = {}
        self.tracked: list[tuple[Any, identity_pb2.Identity | None]] = []
        self.config_reads = 0
        self.outage: grpc.StatusCode | None = None
        self.hold: asyncio.Event | None = None  # Track waits for it: a hung service
        # GetRealtimeConfig's answers where they lag behind Track's (another replica that
        # has not learnt of a change yet), and an event it waits for.
        self.lagging_configs: dict[str, Any] = {}
        self.config_hold: asyncio.Event | None = None
        self._tracking = asyncio.Event()

    @override
    async def Track(self, request: Any, context: Any) -> Any:
        self.tracked.append((request, identity.current.get()))
        self._tracking.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.outage is not None:
            await context.abort(self.outage, "the fake profile service is down")
        config = self.configs.get(request.parent_segment_id)
        if config is None or (request.database, request.table) != TABLE:
            raise NotFound(f"{request.database}.{request.table} is not an event table")
        if "td_client_id" not in request.event.fields:
            raise InvalidArgument(
                "event has no identifier: expected one of td_client_id",
                reason="NO_IDENTIFIER",
                field="event",
            )
        visitor = self.visitors.get(request.parent_segment_id, Visitor())
        return profile_internal_pb2.TrackResponse(
            canonical_id=request.event.fields["td_client_id"].string_value,
            attributes_json=json.dumps(dict(visitor.attributes)),
            segments=sorted(visitor.segments),
            matched_events=list(visitor.matched_events),
            config_version=config.version,
        )

    async def until_tracked(self, count: int) -> None:
        """Returns once ``count`` Track calls have arrived in all."""
        async with asyncio.timeout(5):
            while len(self.tracked) < count:
                self._tracking.clear()
                await self._tracking.wait()

    @override
    async def GetRealtimeConfig(self, request: Any, context: Any) -> Any:
        self.config_reads += 1
        if self.config_hold is not None:
            await self.config_hold.wait()
        if self.outage is not None:
            await context.abort(self.outage, "the fake profile service is down")
        config = self.lagging_configs.get(request.parent_segment_id) or self.configs.get(
            request.parent_segment_id
        )
        if config is None:
            raise NotFound(f"Parent segment {request.parent_segment_id!r} not found")
        return config


@dataclass
class Offers:
    """The running offers service, its fakes, stubs on one channel, and set-up shortcuts."""

    port: int
    profile: FakeProfile
    channel: Any
    # The same port as the profile service calls it (its certificate), for ListReferences.
    as_profile: Any
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def config(self) -> Any:
        return personalization_config_service_pb2_grpc.PersonalizationConfigServiceStub(
            self.channel
        )

    @property
    def internal(self) -> Any:
        """The internal service as the profile service calls it (its certificate)."""
        return offers_internal_pb2_grpc.InternalOffersServiceStub(self.as_profile)

    @property
    def personalize(self) -> Any:
        return personalize_service_pb2_grpc.PersonalizeServiceStub(self.channel)

    def segment(self, catalog: Catalog, account: str = ACCOUNT) -> str:
        """A new parent segment with ``catalog``'s names, at configuration version 1."""
        ps = str(next(self._ids))
        self.profile.configs[ps] = realtime_config(ps, catalog, 1, account)
        return ps

    def change_config(self, ps: str, catalog: Catalog) -> None:
        old = self.profile.configs[ps]
        self.profile.configs[ps] = realtime_config(ps, catalog, old.version + 1, old.account_id)

    async def create(self, ps: str, body: Mapping[str, object]) -> Any:
        message = json_format.ParseDict(dict(body), personalization_pb2.Personalization())
        return await self.config.CreatePersonalization(
            personalization_config_service_pb2.CreatePersonalizationRequest(
                parent_segment_id=ps, personalization=message
            ),
            metadata=editor(),
        )

    async def raw(self, method: str, event: Mapping[str, object], metadata: Metadata) -> bytes:
        """The response's bytes exactly as they leave the service (the parent segment is
        the one ``metadata``'s token names)."""
        request_type = getattr(personalize_service_pb2, f"{method}Request")
        request = request_type(database=TABLE[0], table=TABLE[1])
        request.event.update(dict(event))
        call = self.channel.unary_unary(
            f"/p13n.offers.v1.PersonalizeService/{method}",
            request_serializer=request_type.SerializeToString,
            response_deserializer=None,
        )
        data: bytes = await call(request, metadata=metadata)
        return data

    async def public(self, ps: str, event: Mapping[str, object]) -> bytes:
        """The browser path's answer: an encoded ``google.api.HttpBody`` (see ``json_of``)."""
        return await self.raw("PublicPersonalize", event, token_holder(ps, PUBLIC))

    async def private(
        self, ps: str, event: Mapping[str, object], token_type: identity_pb2.TokenType = PRIVATE
    ) -> bytes:
        """A direct caller's answer: an encoded ``PersonalizeResponse``."""
        return await self.raw("PrivatePersonalize", event, token_holder(ps, token_type))

    async def private_http(
        self, ps: str, event: Mapping[str, object], token_type: identity_pb2.TokenType = PRIVATE
    ) -> bytes:
        """The gateway's private path's answer: an encoded ``google.api.HttpBody``."""
        return await self.raw("PrivatePersonalizeHttp", event, token_holder(ps, token_type))


@contextlib.asynccontextmanager
async def running_offers(
    data_dir: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[Offers]:
    """The offers service with its fakes, until the block ends; ``env`` adds settings (the
    database backend: the ``database_env`` fixture)."""
    async with running_replicas(data_dir, 1, env) as (offers,):
        yield offers


@contextlib.asynccontextmanager
async def running_replicas(
    data_dir: Path, count: int, env: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[Offers, ...]]:
    """``count`` offers processes' worth of servers on one store, sharing one fake profile
    (several need PostgreSQL in ``env``: SQLite is one process's)."""
    fake_profile = FakeProfile()
    pki_dir = data_dir / "pki"  # where the offers service's settings look
    async with contextlib.AsyncExitStack() as stack:
        profile = await stack.enter_async_context(
            _serving(
                Registration(
                    profile_internal_pb2_grpc.add_InternalProfileServiceServicer_to_server,
                    fake_profile,
                    profile_server.INTERNAL,
                ),
                profile_server.RULES,
                profile_server.CALLERS,
                server_credentials(pki_dir, PROFILE),
            )
        )
        settings = Settings.from_env(
            {
                "P13N_DATA_DIR": str(data_dir),
                "P13N_INTERNAL_KEY": KEY.hex(),
                "P13N_SECRET_KEY": os.urandom(32).hex(),
                "P13N_PROFILE_TARGET": f"127.0.0.1:{profile.port}",
                # Stopped at once when the test ends, whatever is still in flight.
                "P13N_SHUTDOWN_GRACE": "0",
                **(env or {}),
            }
        )
        ids = itertools.count(1)  # parent segments made through any replica differ
        replicas = []
        for _ in range(count):
            offers = await stack.enter_async_context(offers_server.lifespan(settings, port=0))
            channel = await stack.enter_async_context(
                aio_channel(settings.pki_dir, GATEWAY, offers.port, OFFERS)
            )
            as_profile = await stack.enter_async_context(
                aio_channel(settings.pki_dir, PROFILE, offers.port, OFFERS)
            )
            replicas.append(Offers(offers.port, fake_profile, channel, as_profile, ids))
        yield tuple(replicas)


def _serving(
    registration: Registration, rules: Any, callers: Callers, credentials: grpc.ServerCredentials
) -> AbstractAsyncContextManager[RunningServer]:
    return serving(
        [registration],
        host="127.0.0.1",
        port=0,
        key=KEY,
        rules=rules,
        callers=callers,
        credentials=credentials,
        grace=0,
    )


def json_of(data: bytes) -> bytes:
    """The JSON an encoded ``google.api.HttpBody`` answer carries; it must say it is JSON."""
    body = httpbody_pb2.HttpBody.FromString(data)
    assert body.content_type == "application/json", body.content_type
    assert not body.extensions
    payload: bytes = body.data  # google.api's modules are untyped here
    return payload


def json_order(body: bytes) -> list[tuple[str, list[str]]]:
    """Each section of a JSON answer ``{"offers": {...}}`` with its attribute names, in the
    order they are in the text (which is the order the browser sees them in)."""
    answer = json.loads(body, object_pairs_hook=lambda pairs: pairs)
    assert [key for key, _ in answer] == ["offers"]
    sections = []
    for name, section in answer[0][1]:
        attributes = dict(section).get("attributes", [])
        sections.append((name, [key for key, _ in attributes]))
    return sections


def wire_order(data: bytes) -> list[tuple[str, list[str]]]:
    """Each section of an encoded PersonalizeResponse with its attribute names, in the
    order they are on the wire (which is the order the gateway prints them in)."""
    sections = []
    for _, entry in message_fields(data):
        parts = dict(message_fields(entry))
        attributes = dict(message_fields(parts.get(2, b""))).get(1, b"")
        names = [dict(message_fields(item))[1].decode() for _, item in message_fields(attributes)]
        sections.append((parts[1].decode(), names))
    return sections


def message_fields(data: bytes) -> list[tuple[int, bytes]]:
    """The length-delimited fields of a message (the only kind on the levels read here)."""
    found, i = [], 0
    while i < len(data):
        tag, i = _varint(data, i)
        assert tag & 7 == 2, f"field {tag >> 3} is not length-delimited"
        size, i = _varint(data, i)
        found.append((tag >> 3, data[i : i + size]))
        i += size
    return found


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i
