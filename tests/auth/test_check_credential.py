"""InternalAuthService.CheckCredential: whether an API key or session still exists.

Answered from the in-memory directory (no store read): a deleted credential is gone once
the directory reloads (within one poll of the generation), and a session also ends when it
expires. The key's id travels in the identity ext_authz issues for it.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from p13n.auth.v1 import internal_service_pb2 as pb

from services.auth import secrets
from services.auth.directory import MemoryDirectory, build_snapshot
from services.auth.internal_service import InternalAuthServicer
from services.auth.store_protocols import (
    ApiKeyCredential,
    Credentials,
    CredentialStore,
    InternalStore,
    SessionCredential,
)
from services.common.errors import InvalidArgument

NOW = 1_000_000.0
KEY = ApiKeyCredential(id=41, account_id=7, type="MASTER", lookup_hash=b"k" * 32)
SESSION = SessionCredential(
    id=52, lookup_hash=b"s" * 32, expire_time=NOW + 60, user_id=3, account_id=7, role="EDITOR"
)


class _Store:
    """The credentials the directory loads; the test deletes them by editing the lists."""

    def __init__(self) -> None:
        self.api_keys = [KEY]
        self.sessions = [SESSION]

    async def credentials(self, _now: float) -> Credentials:
        return Credentials(1, [], [], list(self.api_keys), list(self.sessions))

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"CheckCredential read the store ({name})")


class _Clock:
    now = NOW

    def __call__(self) -> float:
        return self.now


async def _setup() -> tuple[_Store, MemoryDirectory, InternalAuthServicer, _Clock]:
    store, clock = _Store(), _Clock()
    directory = MemoryDirectory(
        cast(CredentialStore, store), secrets.SecretKeys(bytes(32)), clock=clock
    )
    await directory.reload()
    return (
        store,
        directory,
        InternalAuthServicer(cast(InternalStore, store), directory, secrets.SecretKeys(bytes(32))),
        clock,
    )


async def _valid(servicer: InternalAuthServicer, request: pb.CheckCredentialRequest) -> bool:
    return (await servicer.CheckCredential(request, None)).valid


async def test_existing_credentials_are_valid() -> None:
    _, _, servicer, _ = await _setup()
    assert await _valid(servicer, pb.CheckCredentialRequest(api_key_id="41"))
    assert await _valid(servicer, pb.CheckCredentialRequest(session_id="52"))
    assert not await _valid(servicer, pb.CheckCredentialRequest(api_key_id="52"))
    assert not await _valid(servicer, pb.CheckCredentialRequest(session_id="41"))


async def test_a_deleted_api_key_is_invalid_once_the_directory_reloads() -> None:
    store, directory, servicer, _ = await _setup()
    store.api_keys = []
    await directory.reload()
    assert not await _valid(servicer, pb.CheckCredentialRequest(api_key_id="41"))
    assert await _valid(servicer, pb.CheckCredentialRequest(session_id="52"))


async def test_a_deleted_or_expired_session_is_invalid() -> None:
    store, directory, servicer, clock = await _setup()
    clock.now = SESSION.expire_time
    assert not await _valid(servicer, pb.CheckCredentialRequest(session_id="52"))
    clock.now = NOW
    store.sessions = []
    await directory.reload()
    assert not await _valid(servicer, pb.CheckCredentialRequest(session_id="52"))
    assert await _valid(servicer, pb.CheckCredentialRequest(api_key_id="41"))


async def test_naming_no_credential_is_invalid_argument() -> None:
    _, _, servicer, _ = await _setup()
    with pytest.raises(InvalidArgument):
        await _valid(servicer, pb.CheckCredentialRequest())
    with pytest.raises(InvalidArgument):
        await _valid(servicer, pb.CheckCredentialRequest(api_key_id=""))


def test_the_identity_of_an_api_key_names_it() -> None:
    snapshot = build_snapshot(Credentials(1, [], [], [KEY], [SESSION]))
    assert snapshot.api_keys[KEY.lookup_hash].api_key_id == "41"
    assert snapshot.sessions[SESSION.lookup_hash].identity.session_id == "52"
