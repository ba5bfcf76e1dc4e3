"""Accounts, flags, users, sessions and API keys in SQLite: the identity half of the auth store.

Implements ``IdentityStore`` and ``AccountStore`` of ``services.auth.store_protocols``. Each
method is one transaction (or one locked read); those that change a credential or a flag
bump the generation inside it.
"""

from __future__ import annotations

import aiosqlite

from services.auth.sqlite_base import SqliteBase, bump_generation
from services.auth.store_protocols import AuditNote, Bootstrapped, Conflict, Login, MeRecord
from services.common import audit
from services.common.sql import AsyncSqlite
from services.common.storage import fetch_all, fetch_one


class SqliteIdentityStore(SqliteBase):
    """``IdentityStore`` and ``AccountStore`` on the auth database."""

    # -- users and sessions ------------------------------------------------------------

    async def login(self, email: str) -> Login | None:
        async with self._db.reading() as connection:
            row = await fetch_one(
                connection, "SELECT id, password_hash FROM users WHERE email = ?", email
            )
        return None if row is None else Login(row["id"], row["password_hash"])

    async def password_hash(self, user_id: int) -> str | None:
        async with self._db.reading() as connection:
            row = await fetch_one(
                connection, "SELECT password_hash FROM users WHERE id = ?", user_id
            )
        return None if row is None else str(row["password_hash"])

    async def create_session(
        self, user_id: int, lookup_hash: bytes, expire_time: float, now: float
    ) -> None:
        async with self._db.transaction() as connection:
            # Expired sessions can never be used again; keep the table small.
            await connection.execute("DELETE FROM sessions WHERE expire_time <= ?", (now,))
            await connection.execute(
                "INSERT INTO sessions (user_id, lookup_hash, expire_time, authenticated_time) "
                "VALUES (?, ?, ?, ?)",
                (user_id, lookup_hash, expire_time, now),
            )
            await bump_generation(connection)

    async def mark_authenticated(self, session_id: int, now: float) -> None:
        async with self._db.transaction() as connection:
            await connection.execute(
                "UPDATE sessions SET authenticated_time = ? WHERE id = ?", (now, session_id)
            )

    async def me(self, account_id: int, user_id: int) -> MeRecord:
        async with self._db.reading() as connection:
            flags = await _sorted_flags(connection, account_id)
            row = await fetch_one(connection, "SELECT email FROM users WHERE id = ?", user_id)
        return MeRecord(flags=flags, email=None if row is None else str(row["email"]))

    async def create_user(
        self,
        account_id: int,
        email: str,
        password_hash: str,
        role: str,
        now: float,
        entry: AuditNote,
    ) -> int | None:
        async with self._db.transaction() as connection:
            if await fetch_one(connection, "SELECT 1 FROM users WHERE email = ?", email):
                return None
            cursor = await connection.execute(
                "INSERT INTO users (account_id, email, password_hash, role, create_time) "
                "VALUES (?, ?, ?, ?, ?)",
                (account_id, email, password_hash, role, now),
            )
            user_id = int(cursor.lastrowid or 0)
            await audit.record(AsyncSqlite(connection), entry(user_id))
        return user_id

    # -- API keys --------------------------------------------------------------------------

    async def create_api_key(
        self, account_id: int, key_type: str, lookup_hash: bytes, now: float, entry: AuditNote
    ) -> int:
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "INSERT INTO api_keys (account_id, type, lookup_hash, create_time) "
                "VALUES (?, ?, ?, ?)",
                (account_id, key_type, lookup_hash, now),
            )
            key_id = int(cursor.lastrowid or 0)
            await audit.record(AsyncSqlite(connection), entry(key_id))
            await bump_generation(connection)
        return key_id

    async def delete_api_key(self, account_id: int, key_id: int, entry: AuditNote) -> bool:
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "DELETE FROM api_keys WHERE id = ? AND account_id = ?", (key_id, account_id)
            )
            if cursor.rowcount == 0:
                return False
            await audit.record(AsyncSqlite(connection), entry(key_id))
            await bump_generation(connection)
        return True

    async def delete_session(self, session_id: int) -> bool:
        async with self._db.transaction() as connection:
            cursor = await connection.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            if cursor.rowcount == 0:
                return False
            # Every auth process drops the session from its directory at its next poll.
            await bump_generation(connection)
        return True

    # -- accounts and flags ------------------------------------------------------------------

    async def account_flags(self, account_id: int) -> list[str] | None:
        async with self._db.reading() as connection:
            if (
                await fetch_one(connection, "SELECT 1 FROM accounts WHERE id = ?", account_id)
                is None
            ):
                return None
            return await _sorted_flags(connection, account_id)

    async def bootstrap_account(
        self, name: str, email: str, password_hash: str, master_key_hash: bytes, now: float
    ) -> Bootstrapped | Conflict:
        async with self._db.transaction() as connection:
            if await fetch_one(connection, "SELECT 1 FROM accounts WHERE name = ?", name):
                return Conflict.ACCOUNT_NAME_TAKEN
            if await fetch_one(connection, "SELECT 1 FROM users WHERE email = ?", email):
                return Conflict.EMAIL_TAKEN
            cursor = await connection.execute(
                "INSERT INTO accounts (name, create_time) VALUES (?, ?)", (name, now)
            )
            account_id = int(cursor.lastrowid or 0)
            cursor = await connection.execute(
                "INSERT INTO users (account_id, email, password_hash, role, create_time) "
                "VALUES (?, ?, ?, 'OWNER', ?)",
                (account_id, email, password_hash, now),
            )
            user_id = int(cursor.lastrowid or 0)
            cursor = await connection.execute(
                "INSERT INTO api_keys (account_id, type, lookup_hash, create_time) "
                "VALUES (?, 'MASTER', ?, ?)",
                (account_id, master_key_hash, now),
            )
            key_id = int(cursor.lastrowid or 0)
            created = {"account": account_id, "user": user_id, "api_key": key_id}
            for entry in _bootstrap_entries(name, email, created, now):
                await audit.record(AsyncSqlite(connection), entry)
            await bump_generation(connection)
        return Bootstrapped(account_id=account_id, user_id=user_id)

    async def set_flag(self, account_id: int, flag: str, on: bool) -> bool:
        async with self._db.transaction() as connection:
            if not await fetch_one(connection, "SELECT 1 FROM accounts WHERE id = ?", account_id):
                return False
            was = flag in await _sorted_flags(connection, account_id)
            # Only the operator's ``p13n flags set`` changes flags (no API does).
            await audit.record(
                AsyncSqlite(connection),
                audit.change(
                    audit.UPDATE,
                    "flag",
                    flag,
                    {"name": flag, "on": was},
                    {"name": flag, "on": on},
                    who=audit.operator(account_id),
                ),
            )
            if on:
                await connection.execute(
                    "INSERT OR IGNORE INTO account_flags (account_id, flag) VALUES (?, ?)",
                    (account_id, flag),
                )
            else:
                await connection.execute(
                    "DELETE FROM account_flags WHERE account_id = ? AND flag = ?",
                    (account_id, flag),
                )
            await bump_generation(connection)
        return True


async def _sorted_flags(connection: aiosqlite.Connection, account_id: int) -> list[str]:
    rows = await fetch_all(
        connection, "SELECT flag FROM account_flags WHERE account_id = ? ORDER BY flag", account_id
    )
    return [row["flag"] for row in rows]


def _bootstrap_entries(
    name: str, email: str, created: dict[str, int], now: float
) -> list[audit.Entry]:
    """``p13n bootstrap``'s entries: the account, its OWNER and its MASTER key, by the
    operator (the key itself is never passed here: only its id)."""
    who = audit.operator(created["account"])
    made = [
        ("account", created["account"], {"name": name}),
        ("user", created["user"], {"email": email, "role": "OWNER"}),
        ("api_key", created["api_key"], {"type": "MASTER"}),
    ]
    return [
        audit.change(
            audit.CREATE, kind, str(id_), None, {"id": str(id_), **fields}, who=who, now=now
        )
        for kind, id_, fields in made
    ]
