"""The profile service's public RPCs: stitched profiles, the merge log, imports.

Handlers stay thin: they decode and check the request, then call the store
(``profile_store.ProfileStore``; SQLite today), whose writes are durable and atomic when
it returns. The transaction logic lives in ``imports``; the other services' questions
(Track among them) are ``internal_service``'s.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import profile_pb2, profile_service_pb2_grpc
from p13n.profile.v1 import profile_service_pb2 as api
from typing_extensions import override

from services.common import audit
from services.common import identity as identities
from services.common.errors import InvalidArgument, PermissionDenied, Unauthenticated
from services.common.paging import one_page, page_after, page_size
from services.profile import attributes
from services.profile.messages import profile_message
from services.profile.profile_store import Chunk, ProfileStore

# How long a streamed import goes on the credential's last confirmation before asking the
# auth service again whether the API key or session that opened it still exists.
RECHECK_SECONDS = 1.0
REVOKED = "The credential that opened this import was revoked"

CredentialCheck = Callable[[identity_pb2.Identity], Awaitable[bool]]


def caller() -> identity_pb2.Identity:
    found = identities.current.get()
    if found is None or not found.account_id:
        raise Unauthenticated("Credentials are required")
    return found


class ProfileServicer(profile_service_pb2_grpc.ProfileServiceServicer):
    def __init__(
        self,
        store: ProfileStore,
        credential_valid: CredentialCheck,  # required: no import stream goes unchecked
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._credential_valid = credential_valid
        self._monotonic = monotonic

    @override
    async def GetProfile(self, request: api.GetProfileRequest, context: Any) -> profile_pb2.Profile:
        account = caller().account_id
        view = await self._store.profile(
            account, request.parent_segment_id, request.key, request.value
        )
        values = (
            attributes.current_values(view.state, view.config.specs, self._clock())
            | view.batch.imported
        )
        return profile_message(view, values)

    @override
    async def ListMergeLog(
        self, request: api.ListMergeLogRequest, context: Any
    ) -> api.ListMergeLogResponse:
        account = caller().account_id
        size = page_size(request.page_size)
        entries = await self._store.merge_log(
            account, request.parent_segment_id, page_after(request.page_token), size + 1
        )
        page, token = one_page(entries, size)
        return api.ListMergeLogResponse(entries=page, next_page_token=token)

    @override
    async def ImportAttributes(
        self, request: api.ImportAttributesRequest, context: Any
    ) -> api.ImportAttributesResponse:
        imported = await self._store.import_attributes(
            audit.author(),
            request.parent_segment_id,
            request.key,
            request.records,
            self._clock(),
        )
        return api.ImportAttributesResponse(imported=imported)

    @override
    async def StreamImportAttributes(
        self, request_iterator: AsyncIterator[api.StreamImportAttributesRequest], context: Any
    ) -> AsyncIterator[api.StreamImportAttributesResponse]:
        """Each chunk is validated and committed on its own, then reported: a failed chunk
        stops the stream with an error naming the record, and what was reported stays.

        The caller's identity was verified once, when the stream opened; while it runs, a
        chunk arriving over ``RECHECK_SECONDS`` after the last confirmation first asks the
        auth service whether the API key or session still exists: UNAUTHENTICATED once it
        was deleted, UNAVAILABLE when auth cannot answer (fail closed)."""
        who = caller()
        confirmed = self._monotonic()
        # Reached directly with an API key (client streaming cannot pass the JSON gateway),
        # so the role is checked here: a write-only key may send events, not import data.
        if who.role < identity_pb2.EDITOR:
            raise PermissionDenied(reason="ROLE_TOO_LOW")
        # Each committed chunk writes its own audit entry, so the log never claims a chunk
        # that a later failure (or a dropped stream) left uncommitted.
        author = audit.author()
        target: tuple[str, str] | None = None
        total = chunks = 0
        async for chunk in request_iterator:
            if self._monotonic() - confirmed > RECHECK_SECONDS:
                if not await self._credential_valid(who):
                    raise Unauthenticated(REVOKED, reason="CREDENTIAL_REVOKED")
                confirmed = self._monotonic()
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
            chunks += 1
            total += await self._store.import_attributes(
                author,
                target[0],
                target[1],
                chunk.records,
                self._clock(),
                Chunk(chunks, total),
            )
            yield api.StreamImportAttributesResponse(imported=total)
        if target is None:
            yield api.StreamImportAttributesResponse(imported=0)
