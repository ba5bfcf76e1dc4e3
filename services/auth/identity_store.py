"""Accounts, flags, users, sessions and API keys: the identity half of the auth store.

Implements ``IdentityStore`` and ``AccountStore`` of ``services.auth.store_protocols``, one
statement text for both backends. Each method is one transaction (or one read); those that
change a credential or a flag bump the generation inside it.
"""

from __future__ import annotations

from services.auth.sql_base import SqlBase, bump_generation, inserted_id
from services.auth.store_protocols import AuditNote, Bootstrapped, Conflict, Login, MeRecord
from services.common import audit
from services.common.sql import Sql

_INSERT_USER = (
    "INSERT INTO users (account_id, email, password_hash, role, create_time) "
    "VALUES (?, ?, ?, ?, ?) RETURNING id"
)
_INSERT_API_KEY = (
    "INSERT INTO api_keys (account_id, type, lookup_hash, create_time) "
    "VALUES (?, ?, ?, ?) RETURNING id"
)


class SqlIdentityStore(SqlBase):
    """``IdentityStore`` and ``AccountStore`` on the auth database."""

    # -- users and sessions ------------------------------------------------------------

    async def login(self, email: str) -> Login | None:
        async with self._backend.reading() as sql:
            row = await sql.fetchrow("SELECT id, password_hash FROM users WHERE email = ?", email)
        return None if row is None else Login(row["id"], row["password_hash"])

    async def password_hash(self, user_id: int) -> str | None:
        async with self._backend.reading() as sql:
            value = await sql.fetchval("SELECT password_hash FROM users WHERE id = ?", user_id)
        return None if value is None else str(value)

    async def create_session(
        self, user_id: int, lookup_hash: bytes, expire_time: float, now: float
    ) -> None:
        async with self._backend.writing() as sql:
            # Expired sessions can never be used again; keep the table small.
            await sql.execute("DELETE FROM sessions WHERE expire_time <= ?", float(now))
            await sql.execute(
                "INSERT INTO sessions (user_id, lookup_hash, expire_time, authenticated_time) "
                "VALUES (?, ?, ?, ?)",
                user_id,
                lookup_hash,
                float(expire_time),
                float(now),
            )
            await bump_generation(sql)

    async def mark_authenticated(self, session_id: int, now: float) -> None:
        async with self._backend.writing() as sql:
            await sql.execute(
                "UPDATE sessions SET authenticated_time = ? WHERE id = ?", float(now), session_id
            )

    async def me(self, account_id: int, user_id: int) -> MeRecord:
        async with self._backend.reading() as sql:
            flags = await _sorted_flags(sql, account_id)
            email = await sql.fetchval("SELECT email FROM users WHERE id = ?", user_id)
        return MeRecord(flags=flags, email=None if email is None else str(email))

    async def create_user(
        self,
        account_id: int,
        email: str,
        password_hash: str,
        role: str,
        now: float,
        entry: AuditNote,
    ) -> int | None:
        async with self._backend.writing() as sql:
            if await sql.fetchrow("SELECT 1 FROM users WHERE email = ?", email):
                return None
            user_id = await inserted_id(
                sql, _INSERT_USER, account_id, email, password_hash, role, float(now)
            )
            await audit.record(sql, entry(user_id))
        return user_id

    # -- API keys --------------------------------------------------------------------------

    async def create_api_key(
        self, account_id: int, key_type: str, lookup_hash: bytes, now: float, entry: AuditNote
    ) -> int:
        async with self._backend.writing() as sql:
            key_id = await inserted_id(
                sql, _INSERT_API_KEY, account_id, key_type, lookup_hash, float(now)
            )
            await audit.record(sql, entry(key_id))
            await bump_generation(sql)
        return key_id

    async def delete_api_key(self, account_id: int, key_id: int, entry: AuditNote) -> bool:
        async with self._backend.writing() as sql:
            deleted = await sql.execute(
                "DELETE FROM api_keys WHERE id = ? AND account_id = ?", key_id, account_id
            )
            if deleted == 0:
                return False
            await audit.record(sql, entry(key_id))
            await bump_generation(sql)
        return True

    async def delete_session(self, session_id: int) -> bool:
        async with self._backend.writing() as sql:
            if await sql.execute("DELETE FROM sessions WHERE id = ?", session_id) == 0:
                return False
            # Every auth process drops the session from its directory (notified, or polled).
            await bump_generation(sql)
        return True

    # -- accounts and flags ------------------------------------------------------------------

    async def account_flags(self, account_id: int) -> list[str] | None:
        async with self._backend.reading() as sql:
            if await sql.fetchrow("SELECT 1 FROM accounts WHERE id = ?", account_id) is None:
                return None
            return await _sorted_flags(sql, account_id)

    async def bootstrap_account(
        self, name: str, email: str, password_hash: str, master_key_hash: bytes, now: float
    ) -> Bootstrapped | Conflict:
        async with self._backend.writing() as sql:
            if await sql.fetchrow("SELECT 1 FROM accounts WHERE name = ?", name):
                return Conflict.ACCOUNT_NAME_TAKEN
            if await sql.fetchrow("SELECT 1 FROM users WHERE email = ?", email):
                return Conflict.EMAIL_TAKEN
            account_id = await inserted_id(
                sql,
                "INSERT INTO accounts (name, create_time) VALUES (?, ?) RETURNING id",
                name,
                float(now),
            )
            user_id = await inserted_id(
                sql, _INSERT_USER, account_id, email, password_hash, "OWNER", float(now)
            )
            key_id = await inserted_id(
                sql, _INSERT_API_KEY, account_id, "MASTER", master_key_hash, float(now)
            )
            created = {"account": account_id, "user": user_id, "api_key": key_id}
            for entry in _bootstrap_entries(name, email, created, now):
                await audit.record(sql, entry)
            await bump_generation(sql)
        return Bootstrapped(account_id=account_id, user_id=user_id)

    async def set_flag(self, account_id: int, flag: str, on: bool) -> bool:
        async with self._backend.writing() as sql:
            if not await sql.fetchrow("SELECT 1 FROM accounts WHERE id = ?", account_id):
                return False
            was = flag in await _sorted_flags(sql, account_id)
            # Only the operator's ``p13n flags set`` changes flags (no API does).
            await audit.record(
                sql,
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
                await sql.execute(
                    "INSERT INTO account_flags (account_id, flag) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING",
                    account_id,
                    flag,
                )
            else:
                await sql.execute(
                    "DELETE FROM account_flags WHERE account_id = ? AND flag = ?",
                    account_id,
                    flag,
                )
            await bump_generation(sql)
        return True


async def _sorted_flags(sql: Sql, account_id: int) -> list[str]:
    rows = await sql.fetch(
        "SELECT flag FROM account_flags WHERE account_id = ? ORDER BY flag", account_id
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
