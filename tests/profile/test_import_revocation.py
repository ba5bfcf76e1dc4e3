"""A streamed import asks again, while it runs, whether its credential still exists.

The identity is verified once when the stream opens; a chunk arriving over a second after
the last confirmation first asks the auth service. A deleted API key or session ends the
stream UNAUTHENTICATED, an auth outage UNAVAILABLE (fail closed); chunks already committed
stay committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest
from p13n.auth.v1 import identity_pb2
from p13n.profile.v1 import profile_service_pb2 as api

from services.common import audit, identity
from services.common.errors import Unauthenticated, Unavailable
from services.profile.profile_service import RECHECK_SECONDS, REVOKED, ProfileServicer
from services.profile.profile_store import Chunk, ProfileStore

CALLER = identity_pb2.Identity(account_id="7", role=identity_pb2.ADMIN, api_key_id="41")


class _Store:
    def __init__(self) -> None:
        self.committed = 0

    async def import_attributes(
        self,
        _who: audit.Author,
        _parent_segment_id: str,
        _key: str,
        records: Sequence[Any],
        _now: float,
        _chunk: Chunk | None = None,
    ) -> int:
        self.committed += len(records)
        return len(records)


class _Monotonic:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class _Auth:
    """Says whether the credential is valid; counts questions; ``None`` means an outage."""

    def __init__(self) -> None:
        self.valid: bool | None = True
        self.asked: list[identity_pb2.Identity] = []

    async def __call__(self, who: identity_pb2.Identity) -> bool:
        self.asked.append(who)
        if self.valid is None:
            raise Unavailable("The auth service cannot answer; retry shortly")
        return self.valid


async def _chunks(
    monotonic: _Monotonic, auth: _Auth, revoke_after: int, count: int
) -> AsyncIterator[api.StreamImportAttributesRequest]:
    """``count`` chunks of one record, 0.6 s apart; the credential goes after ``revoke_after``."""
    for n in range(count):
        if n == revoke_after and auth.valid is not None:
            auth.valid = False
        yield api.StreamImportAttributesRequest(
            parent_segment_id="ps" if n == 0 else "",
            key="member_id" if n == 0 else "",
            records=[api.ImportRecord(value=f"m{n}")],
        )
        monotonic.now += 0.6


async def _run(
    auth: _Auth,
    store: _Store,
    monotonic: _Monotonic,
    requests: AsyncIterator[Any],
    progress: list[int] | None = None,
) -> list[int]:
    """Streams ``requests`` as ``CALLER``; the progress reported, also into ``progress``."""
    servicer = ProfileServicer(cast(ProfileStore, store), auth, lambda: 1000.0, monotonic=monotonic)
    progress = [] if progress is None else progress
    token = identity.current.set(CALLER)
    try:
        async for reply in servicer.StreamImportAttributes(requests, None):
            progress.append(reply.imported)
    finally:
        identity.current.reset(token)
    return progress


async def test_a_valid_credential_is_confirmed_about_once_a_second() -> None:
    auth, store, monotonic = _Auth(), _Store(), _Monotonic()
    progress = await _run(auth, store, monotonic, _chunks(monotonic, auth, 99, 6))
    assert progress == [1, 2, 3, 4, 5, 6]
    # Chunks at 0, 0.6, 1.2 (asks), 1.8, 2.4 (asks), 3.0: over RECHECK_SECONDS apart.
    assert RECHECK_SECONDS == 1.0
    assert [who.api_key_id for who in auth.asked] == ["41", "41"]


async def test_a_revoked_credential_ends_the_stream_and_keeps_what_was_committed() -> None:
    auth, store, monotonic = _Auth(), _Store(), _Monotonic()
    progress: list[int] = []
    with pytest.raises(Unauthenticated, match=REVOKED):
        await _run(auth, store, monotonic, _chunks(monotonic, auth, 3, 10), progress)
    # Revoked before chunk 3 (1.8 s, within a second of the last confirmation at 1.2 s, so
    # committed); chunk 4 (2.4 s) asks and is refused, and the four committed stay.
    assert progress == [1, 2, 3, 4]
    assert store.committed == 4
    assert len(auth.asked) == 2


async def test_an_auth_outage_refuses_the_chunk_as_unavailable() -> None:
    auth, store, monotonic = _Auth(), _Store(), _Monotonic()
    auth.valid = None
    with pytest.raises(Unavailable, match="cannot answer"):
        await _run(auth, store, monotonic, _chunks(monotonic, auth, 99, 5))
    # The first two chunks (0, 0.6 s) needed no question; the third (1.2 s) is refused.
    assert store.committed == 2
