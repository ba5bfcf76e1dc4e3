"""Operator commands that act on the auth database directly: bootstrap and feature flags.

They write the auth store the settings name (the data directory's SQLite file, which a
running suite shares: WAL and a busy timeout make that safe; or the PostgreSQL schema); the
running auth processes see the change within a second through the store's ``generation``
(and at once on PostgreSQL, notified at commit).
"""

from __future__ import annotations

import time
from pathlib import Path

from services.auth import passwords, secrets, validation
from services.auth.store import open_store
from services.auth.store_protocols import Conflict
from services.common.config import Settings
from services.common.convert import path_id
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound

KNOWN_FLAGS = (validation.FLAG_PUBLIC_SERVICES, validation.FLAG_ATTRIBUTE_SENSITIVITY)


async def bootstrap(
    where: Path | Settings, secret_key: bytes, *, email: str, password: str, account: str
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
    store = await open_store(where)
    try:
        await store.check_secret_key(secret_key)
        created = await store.bootstrap_account(
            account.strip(), email, password_hash, keys.lookup_hash(key), now
        )
    finally:
        await store.close()
    if created is Conflict.ACCOUNT_NAME_TAKEN:
        raise FailedPrecondition(f"Account {account.strip()!r} already exists; nothing was changed")
    if created is Conflict.EMAIL_TAKEN:
        raise FailedPrecondition(f"A user {email} already exists; nothing was changed")
    return {
        "account_id": str(created.account_id),
        "user_id": str(created.user_id),
        "api_key": key.reveal(),
    }


async def set_flag(where: Path | Settings, account_id: str, flag: str, on: bool) -> None:
    """Turns one of an account's feature flags on or off."""
    if flag not in KNOWN_FLAGS:
        raise InvalidArgument(f"Unknown flag {flag!r}; known flags: {', '.join(KNOWN_FLAGS)}")
    store = await open_store(where)
    try:
        account = path_id(account_id)
        found = account > 0 and await store.set_flag(account, flag, on)
    finally:
        await store.close()
    if not found:
        raise NotFound(f"Account {account_id!r} not found")
