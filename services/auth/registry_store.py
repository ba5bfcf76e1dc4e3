"""Services and tokens in SQLite: the registry half of the auth store.

Implements ``RegistryStore`` of ``services.auth.store_protocols``. A writer is one
``BEGIN IMMEDIATE`` transaction; it bumps the generation before COMMIT when it wrote
anything, so the change and the signal that the directory is stale commit together.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable

import aiosqlite

from services.auth.sqlite_base import SqliteBase, bump_generation, json_list, record_from_row
from services.auth.store_protocols import (
    IdentitySecretRecord,
    ServiceChanges,
    ServiceDraft,
    ServiceRecord,
    TokenDraft,
    TokenRecord,
)
from services.common import audit
from services.common.sql import AsyncSqlite
from services.common.storage import fetch_all, fetch_one


def service_from_row(row: aiosqlite.Row) -> ServiceRecord:
    return record_from_row(ServiceRecord, row, allowed_origins=json_list(row["allowed_origins"]))


def _token(row: aiosqlite.Row) -> TokenRecord:
    return record_from_row(
        TokenRecord,
        row,
        allowed_ips=json_list(row["allowed_ips"]),
        lookup_hash=bytes(row["lookup_hash"]),
        encrypted_secret=bytes(row["encrypted_secret"]),
    )


def _identity_secret(row: aiosqlite.Row) -> IdentitySecretRecord:
    return record_from_row(
        IdentitySecretRecord, row, encrypted_secret=bytes(row["encrypted_secret"])
    )


class SqliteRegistryReader:
    """``RegistryReader`` on a connection the caller holds the lock of."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def service(
        self, account_id: int, parent_segment_id: str, service_id: int
    ) -> ServiceRecord | None:
        row = await fetch_one(
            self._connection,
            "SELECT * FROM services WHERE id = ? AND account_id = ? AND parent_segment_id = ?",
            service_id,
            account_id,
            parent_segment_id,
        )
        return None if row is None else service_from_row(row)

    async def services_after(
        self, account_id: int, parent_segment_id: str, after: int, limit: int
    ) -> list[ServiceRecord]:
        rows = await fetch_all(
            self._connection,
            "SELECT * FROM services WHERE account_id = ? AND parent_segment_id = ? AND id > ? "
            "ORDER BY id LIMIT ?",
            account_id,
            parent_segment_id,
            after,
            limit,
        )
        return [service_from_row(row) for row in rows]

    async def token(self, service_id: int, token_id: int) -> TokenRecord | None:
        row = await fetch_one(
            self._connection,
            "SELECT * FROM tokens WHERE id = ? AND service_id = ?",
            token_id,
            service_id,
        )
        return None if row is None else _token(row)

    async def tokens_after(self, service_id: int, after: int, limit: int) -> list[TokenRecord]:
        rows = await fetch_all(
            self._connection,
            "SELECT * FROM tokens WHERE service_id = ? AND id > ? ORDER BY id LIMIT ?",
            service_id,
            after,
            limit,
        )
        return [_token(row) for row in rows]

    async def flags(self, account_id: int) -> set[str]:
        rows = await fetch_all(
            self._connection, "SELECT flag FROM account_flags WHERE account_id = ?", account_id
        )
        return {row["flag"] for row in rows}

    async def identity_secrets(self, service_id: int) -> list[IdentitySecretRecord]:
        rows = await fetch_all(
            self._connection,
            "SELECT * FROM identity_secrets WHERE service_id = ? ORDER BY id",
            service_id,
        )
        return [_identity_secret(row) for row in rows]

    async def public_identity_secrets(self, service_id: int) -> list[IdentitySecretRecord]:
        rows = await fetch_all(
            self._connection,
            "SELECT i.* FROM identity_secrets i JOIN services s ON s.id = i.service_id "
            "WHERE s.id = ? AND s.type = 'PUBLIC' ORDER BY i.id",
            service_id,
        )
        return [_identity_secret(row) for row in rows]

    async def session_authenticated_time(self, session_id: int) -> float | None:
        row = await fetch_one(
            self._connection, "SELECT authenticated_time FROM sessions WHERE id = ?", session_id
        )
        return None if row is None else float(row["authenticated_time"])


class SqliteRegistryWriter(SqliteRegistryReader):
    """``RegistryWriter`` inside a transaction; ``changed`` says whether to bump."""

    changed = False

    async def service_names(
        self, account_id: int, parent_segment_id: str, except_id: int = -1
    ) -> list[str]:
        rows = await fetch_all(
            self._connection,
            "SELECT name FROM services WHERE account_id = ? AND parent_segment_id = ? AND id != ?",
            account_id,
            parent_segment_id,
            except_id,
        )
        return [row["name"] for row in rows]

    async def token_names(self, service_id: int) -> list[str]:
        rows = await fetch_all(
            self._connection, "SELECT name FROM tokens WHERE service_id = ?", service_id
        )
        return [row["name"] for row in rows]

    async def tokens_in_parent_segment(self, account_id: int, parent_segment_id: str) -> int:
        row = await fetch_one(
            self._connection,
            "SELECT COUNT(*) AS n FROM tokens t JOIN services s ON s.id = t.service_id "
            "WHERE s.account_id = ? AND s.parent_segment_id = ?",
            account_id,
            parent_segment_id,
        )
        return int(row["n"]) if row else 0

    async def insert_service(
        self, account_id: int, draft: ServiceDraft, now: float
    ) -> ServiceRecord:
        cursor = await self._connection.execute(
            "INSERT INTO services (account_id, parent_segment_id, reactor_id, name, description, "
            "type, allowed_origins, rate_per_second, rate_burst, create_time, update_time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account_id,
                draft.parent_segment_id,
                draft.reactor_id,
                draft.name,
                draft.description,
                draft.type,
                json.dumps(draft.allowed_origins),
                draft.rate_per_second,
                draft.rate_burst,
                now,
                now,
            ),
        )
        self.changed = True
        return await self._written_service(int(cursor.lastrowid or 0))

    async def update_service(
        self, current: ServiceRecord, changes: ServiceChanges, now: float
    ) -> ServiceRecord:
        await self._connection.execute(
            "UPDATE services SET name = ?, description = ?, allowed_origins = ?, "
            "rate_per_second = ?, rate_burst = ?, update_time = ? WHERE id = ?",
            (
                changes.name,
                changes.description,
                json.dumps(changes.allowed_origins),
                changes.rate_per_second,
                changes.rate_burst,
                now,
                current.id,
            ),
        )
        self.changed = True
        return await self._written_service(current.id)

    async def delete_service(self, service_id: int) -> None:
        # Its tokens go with it (ON DELETE CASCADE).
        await self._connection.execute("DELETE FROM services WHERE id = ?", (service_id,))
        self.changed = True

    async def insert_token(
        self, service_id: int, draft: TokenDraft, seal: Callable[[int], bytes], now: float
    ) -> TokenRecord:
        cursor = await self._connection.execute(
            "INSERT INTO tokens (service_id, name, allowed_ips, lookup_hash, encrypted_secret, "
            "create_time) VALUES (?, ?, ?, ?, ?, ?)",
            (service_id, draft.name, json.dumps(draft.allowed_ips), draft.lookup_hash, b"", now),
        )
        token_id = int(cursor.lastrowid or 0)
        # The encrypted copy is bound to its record id, which exists only after the insert.
        await self._connection.execute(
            "UPDATE tokens SET encrypted_secret = ? WHERE id = ?", (seal(token_id), token_id)
        )
        self.changed = True
        token = await self.token(service_id, token_id)
        assert token is not None  # written just now, in this transaction
        return token

    async def delete_token(self, token_id: int) -> None:
        await self._connection.execute("DELETE FROM tokens WHERE id = ?", (token_id,))
        self.changed = True

    async def insert_identity_secret(
        self, service_id: int, name: str, seal: Callable[[int], bytes], now: float
    ) -> IdentitySecretRecord:
        cursor = await self._connection.execute(
            "INSERT INTO identity_secrets (service_id, name, encrypted_secret, create_time) "
            "VALUES (?, ?, ?, ?)",
            (service_id, name, b"", now),
        )
        secret_id = int(cursor.lastrowid or 0)
        # As for tokens: the encrypted copy is bound to the record id, known only now.
        await self._connection.execute(
            "UPDATE identity_secrets SET encrypted_secret = ? WHERE id = ?",
            (seal(secret_id), secret_id),
        )
        row = await fetch_one(
            self._connection, "SELECT * FROM identity_secrets WHERE id = ?", secret_id
        )
        assert row is not None  # written just now, in this transaction
        return _identity_secret(row)

    async def delete_identity_secret(self, secret_id: int) -> None:
        # The profile service asks for a service's secrets (kept there for seconds), not the
        # directory: no generation bump is needed.
        await self._connection.execute("DELETE FROM identity_secrets WHERE id = ?", (secret_id,))

    async def record(self, entry: audit.Entry) -> None:
        await audit.record(AsyncSqlite(self._connection), entry)

    async def _written_service(self, service_id: int) -> ServiceRecord:
        row = await fetch_one(self._connection, "SELECT * FROM services WHERE id = ?", service_id)
        assert row is not None  # written just now, in this transaction
        return service_from_row(row)


class SqliteRegistryStore(SqliteBase):
    """``RegistryStore`` on the auth database."""

    @contextlib.asynccontextmanager
    async def registry_reading(self) -> AsyncIterator[SqliteRegistryReader]:
        async with self._db.reading() as connection:
            yield SqliteRegistryReader(connection)

    @contextlib.asynccontextmanager
    async def registry_writing(self) -> AsyncIterator[SqliteRegistryWriter]:
        async with self._db.transaction() as connection:
            writer = SqliteRegistryWriter(connection)
            yield writer
            if writer.changed:
                await bump_generation(connection)
