"""What the in-memory directory loads from SQLite: every credential, with the generation.

Implements ``CredentialStore`` of ``services.auth.store_protocols``. ``credentials`` reads the
generation and every table under one lock, so the snapshot is exactly that generation's.
"""

from __future__ import annotations

import aiosqlite

from services.auth.registry_store import service_from_row
from services.auth.sqlite_base import SqliteBase, json_list, read_generation, record_from_row
from services.auth.store_protocols import (
    ApiKeyCredential,
    Credentials,
    SessionCredential,
    TokenCredential,
)
from services.common.storage import fetch_all, fetch_one

_SESSIONS = (
    "SELECT s.id, s.lookup_hash, s.expire_time, u.id AS user_id, u.account_id, u.role "
    "FROM sessions s JOIN users u ON u.id = s.user_id"
)


def _session(row: aiosqlite.Row) -> SessionCredential:
    return record_from_row(SessionCredential, row, lookup_hash=bytes(row["lookup_hash"]))


class SqliteCredentialStore(SqliteBase):
    """``CredentialStore`` on the auth database."""

    async def generation(self) -> int:
        async with self._db.reading() as connection:
            return await read_generation(connection)

    async def credentials(self, now: float) -> Credentials:
        async with self._db.reading() as connection:
            generation = await read_generation(connection)
            services = [
                service_from_row(row)
                for row in await fetch_all(connection, "SELECT * FROM services")
            ]
            tokens = [
                record_from_row(
                    TokenCredential,
                    row,
                    allowed_ips=json_list(row["allowed_ips"]),
                    lookup_hash=bytes(row["lookup_hash"]),
                )
                for row in await fetch_all(
                    connection, "SELECT id, service_id, allowed_ips, lookup_hash FROM tokens"
                )
            ]
            api_keys = [
                record_from_row(ApiKeyCredential, row, lookup_hash=bytes(row["lookup_hash"]))
                for row in await fetch_all(
                    connection, "SELECT id, account_id, type, lookup_hash FROM api_keys"
                )
            ]
            sessions = [
                _session(row)
                for row in await fetch_all(connection, f"{_SESSIONS} WHERE s.expire_time > ?", now)
            ]
        return Credentials(generation, services, tokens, api_keys, sessions)

    async def session(self, lookup_hash: bytes) -> SessionCredential | None:
        async with self._db.reading() as connection:
            row = await fetch_one(connection, f"{_SESSIONS} WHERE s.lookup_hash = ?", lookup_hash)
        return None if row is None else _session(row)
