"""Operator commands that act on the auth database directly: bootstrap and feature flags.

They write the data directory's SQLite file, which a running suite shares (WAL and a busy
timeout make that safe); the running auth service sees the change within a second through
the store's ``generation``.
"""

from __future__ import annotations

import time
from pathlib import Path

from services.auth import passwords, secrets, validation
from services.auth.store import bump_generation, check_secret_key, open_store
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.storage import fetch_one

KNOWN_FLAGS = (validation.FLAG_PUBLIC_SERVICES, validation.FLAG_ATTRIBUTE_SENSITIVITY)


async def bootstrap(
    data_dir: Path, secret_key: bytes, *, email: str, password: str, account: str
) -> dict[str, str]:
    """Creates an account, its owner and a master API key; all or nothing."""
    email = email.strip().lower()
    if not account.strip():
        raise InvalidArgument("Account name can't be blank", field="account")
    if "@" not in email:
        raise InvalidArgument("Email is invalid: expected name@domain.example", field="email")
    passwords.check_password_policy(password, email=email)
    keys = secrets.SecretKeys(secret_key)
    key = secrets.generate_secret(secrets.SecretKind.MASTER_KEY)
    password_hash = passwords.Passwords().hash(password)
    now = time.time()
    db = await open_store(data_dir)
    try:
        await check_secret_key(db, secret_key)
        async with db.transaction() as conn:
            if await fetch_one(conn, "SELECT 1 FROM accounts WHERE name = ?", account.strip()):
                raise FailedPrecondition(
                    f"Account {account.strip()!r} already exists; nothing was changed"
                )
            if await fetch_one(conn, "SELECT 1 FROM users WHERE email = ?", email):
                raise FailedPrecondition(f"A user {email} already exists; nothing was changed")
            cursor = await conn.execute(
                "INSERT INTO accounts (name, create_time) VALUES (?, ?)", (account.strip(), now)
            )
            account_id = int(cursor.lastrowid or 0)
            cursor = await conn.execute(
                "INSERT INTO users (account_id, email, password_hash, role, create_time) "
                "VALUES (?, ?, ?, 'OWNER', ?)",
                (account_id, email, password_hash, now),
            )
            user_id = int(cursor.lastrowid or 0)
            await conn.execute(
                "INSERT INTO api_keys (account_id, type, lookup_hash, create_time) "
                "VALUES (?, 'MASTER', ?, ?)",
                (account_id, keys.lookup_hash(key), now),
            )
            await bump_generation(conn)
    finally:
        await db.close()
    return {"account_id": str(account_id), "user_id": str(user_id), "api_key": key.reveal()}


async def set_flag(data_dir: Path, account_id: str, flag: str, on: bool) -> None:
    """Turns one of an account's feature flags on or off."""
    if flag not in KNOWN_FLAGS:
        raise InvalidArgument(f"Unknown flag {flag!r}; known flags: {', '.join(KNOWN_FLAGS)}")
    db = await open_store(data_dir)
    try:
        async with db.transaction() as conn:
            if not account_id.isdigit() or not await fetch_one(
                conn, "SELECT 1 FROM accounts WHERE id = ?", int(account_id)
            ):
                raise NotFound(f"Account {account_id!r} not found")
            if on:
                await conn.execute(
                    "INSERT OR IGNORE INTO account_flags (account_id, flag) VALUES (?, ?)",
                    (int(account_id), flag),
                )
            else:
                await conn.execute(
                    "DELETE FROM account_flags WHERE account_id = ? AND flag = ?",
                    (int(account_id), flag),
                )
            await bump_generation(conn)
    finally:
        await db.close()
