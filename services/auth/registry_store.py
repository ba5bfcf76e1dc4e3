"""Services and tokens: the registry half of the auth store, one statement text for both backends.

Implements ``RegistryStore`` of ``services.auth.store_protocols``. A writer is one write
transaction of the backend (serialized with every other writer, see ``backends``); it bumps
the generation before COMMIT when it wrote anything, so the change and the signal that the
directory is stale commit together.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable

from services.auth.sql_base import (
    SqlBase,
    bump_generation,
    inserted_id,
    json_list,
    record_from_row,
)
from services.auth.store_protocols import (
    IdentitySecretRecord,
    ServiceChanges,
    ServiceDraft,
    ServiceRecord,
    TokenDraft,
    TokenRecord,
)
from services.common import audit
from services.common.sql import Row, Sql


def service_from_row(row: Row) -> ServiceRecord:
    return record_from_row(ServiceRecord, row, allowed_origins=json_list(row["allowed_origins"]))


def _token(row: Row) -> TokenRecord:
    return record_from_row(
        TokenRecord,
        row,
        allowed_ips=json_list(row["allowed_ips"]),
        lookup_hash=bytes(row["lookup_hash"]),
        encrypted_secret=bytes(row["encrypted_secret"]),
    )


def _identity_secret(row: Row) -> IdentitySecretRecord:
    return record_from_row(
        IdentitySecretRecord, row, encrypted_secret=bytes(row["encrypted_secret"])
    )


class SqlRegistryReader:
    """``RegistryReader`` inside one read (or write) transaction of the backend."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def service(
        self, account_id: int, parent_segment_id: str, service_id: int
    ) -> ServiceRecord | None:
        row = await self._sql.fetchrow(
            "SELECT * FROM services WHERE id = ? AND account_id = ? AND parent_segment_id = ?",
            service_id,
            account_id,
            parent_segment_id,
        )
        return None if row is None else service_from_row(row)

    async def services_after(
        self, account_id: int, parent_segment_id: str, after: int, limit: int
    ) -> list[ServiceRecord]:
        rows = await self._sql.fetch(
            "SELECT * FROM services WHERE account_id = ? AND parent_segment_id = ? AND id > ? "
            "ORDER BY id LIMIT ?",
            account_id,
            parent_segment_id,
            after,
            limit,
        )
        return [service_from_row(row) for row in rows]

    async def token(self, service_id: int, token_id: int) -> TokenRecord | None:
        row = await self._sql.fetchrow(
            "SELECT * FROM tokens WHERE id = ? AND service_id = ?", token_id, service_id
        )
        return None if row is None else _token(row)

    async def tokens_after(self, service_id: int, after: int, limit: int) -> list[TokenRecord]:
        rows = await self._sql.fetch(
            "SELECT * FROM tokens WHERE service_id = ? AND id > ? ORDER BY id LIMIT ?",
            service_id,
            after,
            limit,
        )
        return [_token(row) for row in rows]

    async def flags(self, account_id: int) -> set[str]:
        rows = await self._sql.fetch(
            "SELECT flag FROM account_flags WHERE account_id = ?", account_id
        )
        return {row["flag"] for row in rows}

    async def identity_secrets(self, service_id: int) -> list[IdentitySecretRecord]:
        rows = await self._sql.fetch(
            "SELECT * FROM identity_secrets WHERE service_id = ? ORDER BY id", service_id
        )
        return [_identity_secret(row) for row in rows]

    async def public_identity_secrets(self, service_id: int) -> list[IdentitySecretRecord]:
        rows = await self._sql.fetch(
            "SELECT i.* FROM identity_secrets i JOIN services s ON s.id = i.service_id "
            "WHERE s.id = ? AND s.type = 'PUBLIC' ORDER BY i.id",
            service_id,
        )
        return [_identity_secret(row) for row in rows]

    async def session_authenticated_time(self, session_id: int) -> float | None:
        value = await self._sql.fetchval(
            "SELECT authenticated_time FROM sessions WHERE id = ?", session_id
        )
        return None if value is None else float(value)


class SqlRegistryWriter(SqlRegistryReader):
    """``RegistryWriter`` inside a write transaction; ``changed`` says whether to bump."""

    changed = False

    async def service_names(
        self, account_id: int, parent_segment_id: str, except_id: int = -1
    ) -> list[str]:
        rows = await self._sql.fetch(
            "SELECT name FROM services WHERE account_id = ? AND parent_segment_id = ? AND id != ?",
            account_id,
            parent_segment_id,
            except_id,
        )
        return [row["name"] for row in rows]

    async def token_names(self, service_id: int) -> list[str]:
        rows = await self._sql.fetch("SELECT name FROM tokens WHERE service_id = ?", service_id)
        return [row["name"] for row in rows]

    async def tokens_in_parent_segment(self, account_id: int, parent_segment_id: str) -> int:
        count = await self._sql.fetchval(
            "SELECT COUNT(*) FROM tokens t JOIN services s ON s.id = t.service_id "
            "WHERE s.account_id = ? AND s.parent_segment_id = ?",
            account_id,
            parent_segment_id,
        )
        return int(count or 0)

    async def insert_service(
        self, account_id: int, draft: ServiceDraft, now: float
    ) -> ServiceRecord:
        service_id = await inserted_id(
            self._sql,
            "INSERT INTO services (account_id, parent_segment_id, reactor_id, name, description, "
            "type, allowed_origins, rate_per_second, rate_burst, create_time, update_time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            account_id,
            draft.parent_segment_id,
            draft.reactor_id,
            draft.name,
            draft.description,
            draft.type,
            json.dumps(draft.allowed_origins),
            draft.rate_per_second,
            draft.rate_burst,
            float(now),
            float(now),
        )
        self.changed = True
        return await self._written_service(service_id)

    async def update_service(
        self, current: ServiceRecord, changes: ServiceChanges, now: float
    ) -> ServiceRecord:
        await self._sql.execute(
            "UPDATE services SET name = ?, description = ?, allowed_origins = ?, "
            "rate_per_second = ?, rate_burst = ?, update_time = ? WHERE id = ?",
            changes.name,
            changes.description,
            json.dumps(changes.allowed_origins),
            changes.rate_per_second,
            changes.rate_burst,
            float(now),
            current.id,
        )
        self.changed = True
        return await self._written_service(current.id)

    async def delete_service(self, service_id: int) -> None:
        # Its tokens go with it (ON DELETE CASCADE).
        await self._sql.execute("DELETE FROM services WHERE id = ?", service_id)
        self.changed = True

    async def insert_token(
        self, service_id: int, draft: TokenDraft, seal: Callable[[int], bytes], now: float
    ) -> TokenRecord:
        token_id = await inserted_id(
            self._sql,
            "INSERT INTO tokens (service_id, name, allowed_ips, lookup_hash, encrypted_secret, "
            "create_time) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            service_id,
            draft.name,
            json.dumps(draft.allowed_ips),
            draft.lookup_hash,
            b"",
            float(now),
        )
        # The encrypted copy is bound to its record id, which exists only after the insert.
        await self._sql.execute(
            "UPDATE tokens SET encrypted_secret = ? WHERE id = ?", seal(token_id), token_id
        )
        self.changed = True
        token = await self.token(service_id, token_id)
        assert token is not None  # written just now, in this transaction
        return token

    async def delete_token(self, token_id: int) -> None:
        await self._sql.execute("DELETE FROM tokens WHERE id = ?", token_id)
        self.changed = True

    async def insert_identity_secret(
        self, service_id: int, name: str, seal: Callable[[int], bytes], now: float
    ) -> IdentitySecretRecord:
        secret_id = await inserted_id(
            self._sql,
            "INSERT INTO identity_secrets (service_id, name, encrypted_secret, create_time) "
            "VALUES (?, ?, ?, ?) RETURNING id",
            service_id,
            name,
            b"",
            float(now),
        )
        # As for tokens: the encrypted copy is bound to the record id, known only now.
        await self._sql.execute(
            "UPDATE identity_secrets SET encrypted_secret = ? WHERE id = ?",
            seal(secret_id),
            secret_id,
        )
        row = await self._sql.fetchrow("SELECT * FROM identity_secrets WHERE id = ?", secret_id)
        assert row is not None  # written just now, in this transaction
        return _identity_secret(row)

    async def delete_identity_secret(self, secret_id: int) -> None:
        # The profile service asks for a service's secrets (kept there for seconds), not the
        # directory: no generation bump is needed.
        await self._sql.execute("DELETE FROM identity_secrets WHERE id = ?", secret_id)

    async def record(self, entry: audit.Entry) -> None:
        await audit.record(self._sql, entry)

    async def _written_service(self, service_id: int) -> ServiceRecord:
        row = await self._sql.fetchrow("SELECT * FROM services WHERE id = ?", service_id)
        assert row is not None  # written just now, in this transaction
        return service_from_row(row)


class SqlRegistryStore(SqlBase):
    """``RegistryStore`` on the auth database."""

    @contextlib.asynccontextmanager
    async def registry_reading(self) -> AsyncIterator[SqlRegistryReader]:
        async with self._backend.reading() as sql:
            yield SqlRegistryReader(sql)

    @contextlib.asynccontextmanager
    async def registry_writing(self) -> AsyncIterator[SqlRegistryWriter]:
        async with self._backend.writing() as sql:
            writer = SqlRegistryWriter(sql)
            yield writer
            if writer.changed:
                await bump_generation(sql)
