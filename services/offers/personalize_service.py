"""The data plane: one event in, the visitor's offers out (docs/design.md#data-plane).

Who is asking comes from the signed identity the gateway forwarded, for a browser, an
HTTP backend and a gRPC client alike (docs/design.md#grpc-clients); the interceptor has
settled that before a handler runs. A request costs one ``Track`` call;
the compiled personalizations come from the cache, so nothing else is read or parsed.

Which answer a caller gets: the public path requires a public token and redacts; the
private path answers in full only to a private token. A public token is readable by
anyone who opens the page, so on the private path it gets exactly the public answer.

How it is encoded (``wire.py``): the gateway's two paths (PublicPersonalize,
PrivatePersonalizeHttp) answer the JSON itself in a ``google.api.HttpBody``; a gRPC client
calling PrivatePersonalize through the gateway gets the typed ``PersonalizeResponse``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from p13n.auth.v1 import identity_pb2
from p13n.offers.v1 import personalize_service_pb2 as api
from p13n.offers.v1 import personalize_service_pb2_grpc
from p13n.profile.v1 import internal_service_pb2 as profile_api
from typing_extensions import override

from services.common import identity
from services.common.errors import InvalidArgument, PermissionDenied

# The event rules (nesting at most 32 levels, integral numbers as ints) are shared with the
# profile service, which stores the event: one decoder, so both services refuse alike.
from services.common.events import EventError, decode
from services.offers import wire
from services.offers.compiled_cache import CompiledCache
from services.offers.profile_client import ProfileClient, view_of
from services.offers.upstream import Deadline

_TOKEN_TYPES = (identity_pb2.TOKEN_TYPE_PUBLIC, identity_pb2.TOKEN_TYPE_PRIVATE)


class PersonalizeServicer(personalize_service_pb2_grpc.PersonalizeServiceServicer):
    def __init__(self, profile: ProfileClient, cache: CompiledCache) -> None:
        self._profile = profile
        self._cache = cache

    @override
    async def PublicPersonalize(self, request: api.PublicPersonalizeRequest, context: Any) -> bytes:
        caller = _token_holder()
        if caller.token_type != identity_pb2.TOKEN_TYPE_PUBLIC:
            raise PermissionDenied(
                "Private tokens cannot be used on /public paths; use a public token",
                reason="PRIVATE_TOKEN_ON_PUBLIC_PATH",
            )
        return wire.json_body(await self._answer(request, context, caller, public=True))

    @override
    async def PrivatePersonalize(
        self, request: api.PrivatePersonalizeRequest, context: Any
    ) -> bytes:
        caller = _token_holder()
        public = caller.token_type != identity_pb2.TOKEN_TYPE_PRIVATE
        offers = await self._answer(request, context, caller, public=public)
        return wire.personalize_response(offers)

    @override
    async def PrivatePersonalizeHttp(
        self, request: api.PrivatePersonalizeHttpRequest, context: Any
    ) -> bytes:
        caller = _token_holder()
        public = caller.token_type != identity_pb2.TOKEN_TYPE_PRIVATE
        return wire.json_body(await self._answer(request, context, caller, public=public))

    async def _answer(
        self, request: Any, context: Any, caller: identity_pb2.Identity, *, public: bool
    ) -> dict[str, dict[str, object]]:
        deadline = Deadline.of(context)
        event = decode_event(request.event)
        tracked = await self._profile.track(
            profile_api.TrackRequest(
                parent_segment_id=caller.parent_segment_id,
                database=request.database,
                table=request.table,
                event=request.event,
            ),
            budget=deadline.timeout(),
        )
        compiled = await self._cache.get(
            caller.parent_segment_id,
            caller.account_id,
            tracked.config_version,
            budget=deadline.timeout(),
        )
        return compiled.config.answer(
            tracked.matched_events, view_of(tracked), event, public=public
        )


def decode_event(struct: struct_pb2.Struct) -> dict[str, object]:
    """The event as plain JSON values; INVALID_ARGUMENT when it is nested too deeply.

    An empty body arrives as an empty event; the profile service then refuses it for
    having no identifier, which tells the developer what to send.
    """
    try:
        return decode(struct)
    except EventError as error:
        raise InvalidArgument(f"event: {error}", reason="INVALID_EVENT", field="event") from None


def _token_holder() -> identity_pb2.Identity:
    """The caller, who must hold a personalization token (an API key will not do)."""
    caller = identity.current.get()
    if caller is None or caller.token_type not in _TOKEN_TYPES or not caller.parent_segment_id:
        raise PermissionDenied(
            "Personalization needs a personalization token (WP13n-Token header)",
            reason="TOKEN_REQUIRED",
        )
    return caller
