"""The auth store's seam: handlers hold no SQL, and a backend keeps the Protocols' promises.

The behaviour tests take the store from the ``store`` fixture (tests/auth/conftest.py), which
runs each of them on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import typing

import pytest

from services.auth import store_protocols as protocols
from services.auth.directory import MemoryDirectory
from services.auth.identity_service import IdentityServicer
from services.auth.internal_service import InternalAuthServicer
from services.auth.ratelimit import Limit
from services.auth.registry_service import RegistryServicer
from services.auth.registry_store import SqlRegistryReader, SqlRegistryWriter
from services.auth.store import SqlAuthStore
from services.auth.store_protocols import (
    AuditNote,
    AuthStore,
    Bootstrapped,
    Conflict,
    ServiceChanges,
    ServiceDraft,
    SessionLookup,
    TokenDraft,
)
from services.common import audit
from services.common.errors import FailedPrecondition

KEY = bytes(range(32))
NOW = 1_700_000_000.0

# --- the seam --------------------------------------------------------------------------

HANDLERS = [
    "services.auth.registry_service",
    "services.auth.identity_service",
    "services.auth.internal_service",
    "services.auth.directory",
    "services.auth.operator",
]
_SQL_VERBS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "BEGIN")


@pytest.mark.parametrize("name", HANDLERS)
def test_handlers_hold_no_sql(name: str) -> None:
    source = inspect.getsource(importlib.import_module(name))
    literals = [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert [s for s in literals if s.lstrip().upper().startswith(_SQL_VERBS)] == []


@pytest.mark.parametrize("name", HANDLERS[:-1])  # the operator opens the store: it may
def test_handlers_import_no_database(name: str) -> None:
    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    forbidden = {
        "aiosqlite",
        "sqlite3",
        "services.common.storage",
        "services.auth.store",
        "services.auth.registry_store",
        "services.auth.identity_store",
        "services.auth.credential_store",
        "services.auth.backends",
        "services.common.sql",
        "services.common.postgres",
        "asyncpg",
    }
    assert imported & forbidden == set()


@pytest.mark.parametrize(
    ("cls", "protocol"),
    [
        pytest.param(RegistryServicer, protocols.RegistryStore, id="registry"),
        pytest.param(IdentityServicer, protocols.IdentityStore, id="identity"),
        pytest.param(InternalAuthServicer, protocols.InternalStore, id="internal"),
        pytest.param(MemoryDirectory, protocols.CredentialStore, id="directory"),
    ],
)
def test_handlers_are_typed_against_a_protocol(cls: type, protocol: type) -> None:
    hints = typing.get_type_hints(vars(cls)["__init__"])
    assert hints["store"] is protocol
    assert getattr(protocol, "_is_protocol", False)


def _protocol_methods(protocol: type) -> set[str]:
    names: set[str] = set()
    for base in protocol.__mro__:
        if getattr(base, "_is_protocol", False) and base is not typing.Protocol:
            names |= {n for n, v in vars(base).items() if callable(v) and not n.startswith("_")}
    return names


@pytest.mark.parametrize(
    ("implementation", "protocol"),
    [
        pytest.param(SqlAuthStore, AuthStore, id="store"),
        pytest.param(SqlRegistryReader, protocols.RegistryReader, id="reader"),
        pytest.param(SqlRegistryWriter, protocols.RegistryWriter, id="writer"),
    ],
)
def test_store_classes_implement_every_method_with_its_signature(
    implementation: type, protocol: type
) -> None:
    methods = _protocol_methods(protocol)
    assert methods  # a protocol without methods would make this test vacuous
    for name in methods:
        wanted = inspect.signature(getattr(protocol, name))
        found = inspect.signature(getattr(implementation, name))
        assert list(found.parameters) == list(wanted.parameters), name
        assert inspect.iscoroutinefunction(getattr(implementation, name)) == (
            inspect.iscoroutinefunction(getattr(protocol, name))
        ), name


# --- what every backend guarantees -------------------------------------------------------


async def _account(store: AuthStore, name: str = "Shop") -> Bootstrapped:
    created = await store.bootstrap_account(
        name, f"owner@{name}.example", "hash", name.encode(), NOW
    )
    assert isinstance(created, Bootstrapped)
    return created


def _draft(name: str, parent: str = "ps1") -> ServiceDraft:
    return ServiceDraft(parent, "r1", name, "", "PRIVATE", [], 0, 0)


async def test_a_refused_write_leaves_nothing_behind_not_even_the_generation(
    store: AuthStore,
) -> None:
    account = await _account(store)
    before = await store.generation()

    async def insert_then_refuse() -> None:
        async with store.registry_writing() as writer:
            await writer.insert_service(account.account_id, _draft("Web"), NOW)
            raise FailedPrecondition("refused after the insert")

    with pytest.raises(FailedPrecondition, match="refused after the insert"):
        await insert_then_refuse()
    assert await store.generation() == before
    async with store.registry_reading() as reader:
        assert await reader.services_after(account.account_id, "ps1", 0, 10) == []


async def test_a_write_bumps_the_generation_once_and_a_read_only_writer_not_at_all(
    store: AuthStore,
) -> None:
    account = await _account(store)
    before = await store.generation()
    async with store.registry_writing() as writer:
        await writer.service_names(account.account_id, "ps1")
    assert await store.generation() == before
    async with store.registry_writing() as writer:
        service = await writer.insert_service(account.account_id, _draft("Web"), NOW)
        await writer.update_service(service, ServiceChanges("Web 2", "d", [], 1, 2), NOW + 1)
    assert await store.generation() == before + 1
    credentials = await store.credentials(NOW)
    assert credentials.generation == before + 1
    assert [s.name for s in credentials.services] == ["Web 2"]


async def test_services_are_scoped_to_their_account_and_paged_by_id(store: AuthStore) -> None:
    shop, other = await _account(store, "Shop"), await _account(store, "Other")
    async with store.registry_writing() as writer:
        ids = [
            (await writer.insert_service(shop.account_id, _draft(f"S{i}"), NOW)).id
            for i in range(5)
        ]
    assert ids == sorted(ids)
    async with store.registry_reading() as reader:
        assert await reader.service(other.account_id, "ps1", ids[0]) is None
        assert await reader.service(shop.account_id, "ps2", ids[0]) is None
        assert await reader.services_after(other.account_id, "ps1", 0, 10) == []
        first = await reader.services_after(shop.account_id, "ps1", 0, 2)
        rest = await reader.services_after(shop.account_id, "ps1", first[-1].id, 10)
    assert [s.id for s in first + rest] == ids


async def test_a_token_is_sealed_with_its_own_id_and_counted_in_its_segment(
    store: AuthStore,
) -> None:
    account = await _account(store)
    async with store.registry_writing() as writer:
        service = await writer.insert_service(account.account_id, _draft("Web"), NOW)
        token = await writer.insert_token(
            service.id,
            TokenDraft("t", ["10.0.0.0/8"], b"hash"),
            lambda i: f"sealed {i}".encode(),
            NOW,
        )
        assert await writer.tokens_in_parent_segment(account.account_id, "ps1") == 1
        assert await writer.token_names(service.id) == ["t"]
    assert token.encrypted_secret == f"sealed {token.id}".encode()
    assert token.allowed_ips == ["10.0.0.0/8"]
    async with store.registry_writing() as writer:
        await writer.delete_service(service.id)
    assert (await store.credentials(NOW)).tokens == []  # the service's tokens went with it


def _note(account_id: int, resource_type: str, action: str = audit.CREATE) -> AuditNote:
    """An audit entry for a change of the store (no request, so no identity to read)."""

    def entry(resource_id: int) -> audit.Entry:
        return audit.Entry(
            account_id=str(account_id),
            time=NOW,
            actor="users/1",
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id),
            parent="",
            before=None,
            after={"id": str(resource_id)},
        )

    return entry


async def _audited(store: SqlAuthStore, account_id: int) -> list[tuple[str, str, str]]:
    """The account's entries but the operator's (its bootstrap's: tests/auth/test_operator_audit)."""
    found = await store.audit_log().entries(audit.Filter(str(account_id)), 0, 100)
    return [(e.action, e.resource_type, e.resource_id) for e in found if e.actor != audit.OPERATOR]


async def test_a_taken_email_creates_no_user(store: AuthStore) -> None:
    account = await _account(store)
    note = _note(account.account_id, "user")
    first = await store.create_user(account.account_id, "a@shop.example", "h1", "VIEWER", NOW, note)
    assert first is not None
    taken = await store.create_user(account.account_id, "a@shop.example", "h2", "ADMIN", NOW, note)
    assert taken is None
    assert await store.login("a@shop.example") == (first, "h1")
    assert isinstance(store, SqlAuthStore)
    # One change, one entry: the refused one wrote neither.
    assert await _audited(store, account.account_id) == [("create", "user", str(first))]


async def test_an_api_key_is_deleted_only_in_its_own_account(store: AuthStore) -> None:
    shop, other = await _account(store, "Shop"), await _account(store, "Other")
    key_id = await store.create_api_key(
        shop.account_id, "WRITE_ONLY", b"key", NOW, _note(shop.account_id, "api_key")
    )
    before = await store.generation()
    deleted = _note(shop.account_id, "api_key", audit.DELETE)
    assert await store.delete_api_key(other.account_id, key_id, deleted) is False
    assert await store.generation() == before
    assert await store.delete_api_key(shop.account_id, key_id, deleted) is True
    assert await store.generation() == before + 1
    assert isinstance(store, SqlAuthStore)
    assert await _audited(store, shop.account_id) == [
        ("create", "api_key", str(key_id)),
        ("delete", "api_key", str(key_id)),
    ]
    assert await _audited(store, other.account_id) == []


async def test_a_deleted_session_is_gone_and_bumps_the_generation(store: AuthStore) -> None:
    account = await _account(store)
    await store.create_session(account.user_id, b"mine", NOW + 100, NOW)
    found = await store.session(b"mine")
    session = found.session
    assert session is not None
    before = await store.generation()
    assert found.generation == before  # the look-up tells the generation it saw
    assert await store.delete_session(session.id) is True
    assert await store.generation() == before + 1
    assert await store.session(b"mine") == SessionLookup(None, before + 1)
    assert [s.lookup_hash for s in (await store.credentials(NOW)).sessions] == []
    assert await store.delete_session(session.id) is False


async def test_expired_sessions_are_not_loaded_but_can_be_looked_up(store: AuthStore) -> None:
    account = await _account(store)
    await store.create_session(account.user_id, b"old", NOW + 10, NOW)
    await store.create_session(account.user_id, b"new", NOW + 100, NOW)
    loaded = await store.credentials(NOW + 50)
    assert [s.lookup_hash for s in loaded.sessions] == [b"new"]
    old = (await store.session(b"old")).session
    assert old is not None
    assert old.role == "OWNER"
    assert old.account_id == account.account_id


async def test_bootstrap_conflicts_and_unknown_accounts_write_nothing(store: AuthStore) -> None:
    account = await _account(store)
    before = await store.generation()
    taken = await store.bootstrap_account("Shop", "x@y.example", "h", b"k2", NOW)
    assert taken is Conflict.ACCOUNT_NAME_TAKEN
    taken = await store.bootstrap_account("New", "owner@Shop.example", "h", b"k3", NOW)
    assert taken is Conflict.EMAIL_TAKEN
    assert await store.set_flag(account.account_id + 1, "f", True) is False
    assert await store.generation() == before
    assert await store.account_flags(account.account_id + 1) is None
    assert await store.set_flag(account.account_id, "f", True) is True
    assert await store.account_flags(account.account_id) == ["f"]
    assert await store.generation() == before + 1


async def test_a_different_secret_key_is_refused(store: AuthStore) -> None:
    await store.check_secret_key(KEY)
    await store.check_secret_key(KEY)
    with pytest.raises(FailedPrecondition):
        await store.check_secret_key(bytes(32))


async def test_failure_buckets_count_exactly_and_full_ones_are_forgotten(
    store: SqlAuthStore,
) -> None:
    limit = Limit(rate=1.0, burst=2)
    taken = [(await store.take_failure("address", "k1", limit, NOW)).allowed for _ in range(3)]
    assert taken == [True, True, False]
    back = await store.give_back_failure("address", "k1", limit, NOW)
    assert (back.tokens, back.allowed) == (1.0, True)
    # k1 is full again 1 s later; creating another bucket then forgets it (missing = full).
    await store.take_failure("address", "k2", limit, NOW + 5)
    async with store._backend.reading() as sql:  # noqa: SLF001 (the table itself)
        keys = [row["key"] for row in await sql.fetch("SELECT key FROM failure_buckets")]
    assert keys == ["k2"]
    assert (await store.take_failure("address", "k1", limit, NOW + 5)).tokens == 1.0
