"""What the in-memory directory loads: every credential, with the generation.

Implements ``CredentialStore`` of ``services.auth.store_protocols``. ``credentials`` reads the
generation and every table in one read of the backend (one snapshot), so what it returns is
exactly that generation's; ``session`` likewise tells the generation its look-up saw.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from services.auth.registry_store import service_from_row
from services.auth.sql_base import SqlBase, json_list, read_generation, record_from_row
from services.auth.store_protocols import (
    ApiKeyCredential,
    Credentials,
    SessionCredential,
    SessionLookup,
    TokenCredential,
)
from services.common.sql import Row

_SESSIONS = (
    "SELECT s.id, s.lookup_hash, s.expire_time, u.id AS user_id, u.account_id, u.role "
    "FROM sessions s JOIN users u ON u.id = s.user_id"
)


def _session(row: Row) -> SessionCredential:
    return record_from_row(SessionCredential, row, lookup_hash=bytes(row["lookup_hash"]))


class SqlCredentialStore(SqlBase):
    """``CredentialStore`` on the auth database."""

    async def generation(self) -> int:
        async with self._backend.reading() as sql:
            return await read_generation(sql)

    def listening(self, on_change: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        return self._backend.listening(on_change)

    async def credentials(self, now: float) -> Credentials:
        async with self._backend.reading() as sql:
            generation = await read_generation(sql)
            services = [service_from_row(row) for row in await sql.fetch("SELECT * FROM services")]
            tokens = [
                record_from_row(
                    TokenCredential,
                    row,
                    allowed_ips=json_list(row["allowed_ips"]),
                    lookup_hash=bytes(row["lookup_hash"]),
                )
                for row in await sql.fetch(
                    "SELECT id, service_id, allowed_ips, lookup_hash FROM tokens"
                )
            ]
            api_keys = [
                record_from_row(ApiKeyCredential, row, lookup_hash=bytes(row["lookup_hash"]))
                for row in await sql.fetch("SELECT id, account_id, type, lookup_hash FROM api_keys")
            ]
            sessions = [
                _session(row)
                for row in await sql.fetch(f"{_SESSIONS} WHERE s.expire_time > ?", float(now))
            ]
        return Credentials(generation, services, tokens, api_keys, sessions)

    async def session(self, lookup_hash: bytes) -> SessionLookup:
        async with self._backend.reading() as sql:
            generation = await read_generation(sql)
            row = await sql.fetchrow(f"{_SESSIONS} WHERE s.lookup_hash = ?", lookup_hash)
        return SessionLookup(None if row is None else _session(row), generation)
