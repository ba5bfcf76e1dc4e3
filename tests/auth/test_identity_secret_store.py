"""The identity secrets of public services in the auth store (issue 13, verified identifiers).

Follows ``test_store.py``: the behaviour every backend must keep, on the ``store`` fixture
(SQLite and PostgreSQL, tests/auth/conftest.py).
"""

from __future__ import annotations

import pytest

from services.auth import secrets
from services.auth.store_protocols import AuthStore, Bootstrapped, ServiceDraft

NOW = 1_700_000_000.0
KEY = bytes(range(32))


async def _service(store: AuthStore, type_: str = "PUBLIC", name: str = "Web") -> int:
    created = await store.bootstrap_account(
        f"Shop {name}", f"owner@{name}.example", "hash", name.encode(), NOW
    )
    assert isinstance(created, Bootstrapped)
    async with store.registry_writing() as writer:
        service = await writer.insert_service(
            created.account_id, ServiceDraft("ps1", "r1", name, "", type_, [], 0, 0), NOW
        )
    return service.id


async def test_a_secret_is_sealed_with_its_own_id_listed_in_order_and_deleted(
    store: AuthStore,
) -> None:
    service = await _service(store)
    async with store.registry_writing() as writer:
        first = await writer.insert_identity_secret(
            service, "current", lambda i: f"sealed {i}".encode(), NOW
        )
        second = await writer.insert_identity_secret(
            service, "next", lambda i: f"sealed {i}".encode(), NOW + 1
        )
    assert first.encrypted_secret == f"sealed {first.id}".encode()
    async with store.registry_reading() as reader:
        assert [s.name for s in await reader.identity_secrets(service)] == ["current", "next"]
        assert [s.id for s in await reader.public_identity_secrets(service)] == [
            first.id,
            second.id,
        ]
    async with store.registry_writing() as writer:
        await writer.delete_identity_secret(first.id)
    async with store.registry_reading() as reader:
        assert [s.id for s in await reader.identity_secrets(service)] == [second.id]


async def test_a_private_service_and_an_unknown_one_have_no_public_secrets(
    store: AuthStore,
) -> None:
    private = await _service(store, "PRIVATE", "Backend")
    async with store.registry_writing() as writer:
        await writer.insert_identity_secret(private, "s", lambda _i: b"x", NOW)
    async with store.registry_reading() as reader:
        assert await reader.public_identity_secrets(private) == []
        assert await reader.public_identity_secrets(private + 1000) == []


async def test_secrets_go_with_their_service_and_do_not_touch_the_generation(
    store: AuthStore,
) -> None:
    service = await _service(store)
    before = await store.generation()
    async with store.registry_writing() as writer:
        await writer.insert_identity_secret(service, "s", lambda _i: b"x", NOW)
    # Profile asks for secrets (kept there for seconds), not the directory: no reload.
    assert await store.generation() == before
    async with store.registry_writing() as writer:
        await writer.delete_service(service)
    async with store.registry_reading() as reader:
        assert await reader.identity_secrets(service) == []


async def test_a_sealed_identity_secret_opens_only_under_its_own_record() -> None:
    keys = secrets.SecretKeys(KEY)
    secret = secrets.generate_secret(secrets.SecretKind.IDENTITY_SECRET)
    assert secret.reveal().startswith("p13n_idv_")
    assert "p13n_idv_" in repr(secret)
    assert secret.reveal() not in repr(secret)
    sealed = keys.encrypt(secret, secrets.identity_secret_record(7))
    assert keys.decrypt(sealed, secrets.identity_secret_record(7)) == secret
    # Not as token 7's copy, nor as another secret's.
    for record in ("7", secrets.identity_secret_record(8)):
        with pytest.raises(secrets.DecryptionFailed):
            keys.decrypt(sealed, record)
    # Log scrubbing finds it like every other p13n secret.
    assert secrets.SECRET_PATTERN.search(f"oops {secret.reveal()} leaked")
