"""Operator commands that act on the auth database directly: bootstrap and feature flags.

They write the auth store the settings name (the data directory's SQLite file, which a
running suite shares: WAL and a busy timeout make that safe; or the PostgreSQL schema); the
running auth processes see the change within a second through the store's ``generation``
(and at once on PostgreSQL, notified at commit).

They write only a database the auth service made: run anywhere else (another pod, another
volume, before auth ever started) they would create a database no auth process reads, and
print an API key that then gets 401. So they refuse, naming where they looked
(``require_auth_database``), before anything is created. Nor do they make the secret key
the auth service's credentials are derived from: they read the one it has (``secret_key``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import asyncpg

from services.auth import passwords, secrets, validation
from services.auth.store import (
    MIGRATIONS,
    PG_MIGRATIONS,
    SqlAuthStore,
    database_path,
    open_store,
)
from services.auth.store_protocols import Conflict
from services.common import postgres
from services.common.config import SECRET_KEY, Settings
from services.common.convert import path_id
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.storage import BUSY_TIMEOUT_MS

KNOWN_FLAGS = (validation.FLAG_PUBLIC_SERVICES, validation.FLAG_ATTRIBUTE_SENSITIVITY)

# Where an operator command runs to find the auth service's database on Kubernetes.
IN_THE_AUTH_POD = "kubectl exec deploy/p13n-auth -- p13n {command} ..."


async def require_auth_database(
    where: Path | Settings, command: str = "bootstrap", elsewhere: str = ""
) -> None:
    """Raises FailedPrecondition unless the auth service has made its database there.

    ``elsewhere`` is added to the message where no SQLite database lives: the CLI names the
    running suite's data directory and ``bootstrap --init`` there (``services.data_dir``).

    The database must be at exactly the version this code knows, applied by the auth
    service (the command never creates or migrates it): SQLite's ``<data dir>/auth.db``
    (its ``user_version``, read through a read-only connection), or PostgreSQL's auth
    schema. Creates nothing either way.
    """
    settings = where if isinstance(where, Settings) else None
    if settings is not None and settings.database_url is not None:
        await _require_auth_schema(settings.database_url, settings.database_schema("auth"), command)
        return
    data_dir = where if isinstance(where, Path) else where.data_dir
    path = database_path(data_dir)
    if not path.is_file():
        raise FailedPrecondition(
            f"no auth database at {path}: p13n {command} must run where the auth service "
            f"keeps its data (P13N_DATA_DIR), e.g. `{IN_THE_AUTH_POD.format(command=command)}`"
            f", or start the auth service first (it creates the database){elsewhere}; "
            "nothing was created",
            reason="NO_AUTH_DATABASE",
        )
    try:
        version = await asyncio.to_thread(_sqlite_version, path)
    except sqlite3.Error as error:
        raise FailedPrecondition(
            f"p13n {command} cannot read the auth database at {path} "
            f"({type(error).__name__}: {error}); nothing was created",
            reason="AUTH_DATABASE_UNREACHABLE",
        ) from None
    _require_version(f"the auth database {path}", version, len(MIGRATIONS), command)


def _sqlite_version(path: Path) -> int:
    # Read-only: the file is the auth service's, and this command must not change it (nor
    # create it, as a plain connect would). WAL lets the read run beside a writer.
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
    )
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


async def _require_auth_schema(url: str, schema: str, command: str) -> None:
    try:
        version = await postgres.applied_version(url, schema)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        # The URL may carry a password: the message shows it redacted.
        raise FailedPrecondition(
            f"p13n {command} cannot reach the auth database at {postgres.redacted(url)} "
            f"({type(error).__name__}: {error}); check P13N_DATABASE_URL; nothing was created",
            reason="AUTH_DATABASE_UNREACHABLE",
        ) from None
    _require_version(
        f"the auth schema {schema} in {postgres.redacted(url)}",
        version,
        len(PG_MIGRATIONS),
        command,
    )


def _require_version(database: str, version: int | None, known: int, command: str) -> None:
    """Refuses a database the auth service has not migrated to this code's version, and one
    a newer auth service migrated past it (this CLI would not know its tables)."""
    if version is not None and version > known:
        raise FailedPrecondition(
            f"{database} is at version {version}, newer than this p13n knows ({known}): "
            "run the auth service's own p13n, e.g. "
            f"`{IN_THE_AUTH_POD.format(command=command)}`; nothing was created",
            reason="AUTH_DATABASE_NEWER",
        )
    if version is None or version < known:
        found = "does not exist" if version is None else f"is at version {version}"
        raise FailedPrecondition(
            f"{database} {found}, and p13n {command} needs version {known}: start (or "
            "upgrade) the auth service first, which creates and migrates it, then run "
            f"p13n {command} again; nothing was created",
            reason="NO_AUTH_DATABASE",
        )


async def init_auth_database(settings: Settings) -> bool:
    """``p13n bootstrap --init``: creates the auth database where none lives, as the auth
    service does when it first starts (services/auth/server.py's lifespan): its secret key
    (from P13N_SECRET_KEY or the data directory's file, made there if missing), the store
    through its own migrations, the key's check recorded. True if it created one.

    A database that exists is left as it is, whatever its version: migrating one is the
    auth service's (``require_auth_database`` then says what to do).
    """
    if settings.database_url is not None:
        try:
            version = await postgres.applied_version(
                settings.database_url, settings.database_schema("auth")
            )
        except (OSError, TimeoutError, asyncpg.PostgresError):
            return False  # require_auth_database names the unreachable database
        if version is not None:
            return False
    elif database_path(settings.data_dir).exists():
        return False
    key = settings.secret_key  # made in the data directory (0600) when not given
    store = await open_store(settings)
    try:
        await store.check_secret_key(key)
    finally:
        await store.close()
    return True


def secret_key(settings: Settings, command: str = "bootstrap") -> bytes:
    """The auth service's secret key, from P13N_SECRET_KEY or the data directory's file.

    Never a new one: a key made here would be a stray file and not the key the auth
    database was made with (on Kubernetes the auth pod has it in its environment).
    """
    path = settings.keys.path(SECRET_KEY)
    try:
        key = settings.keys.existing(SECRET_KEY)
    except OSError as error:
        raise FailedPrecondition(
            f"p13n {command} cannot read the secret key at {path} "
            f"({type(error).__name__}: {error}); nothing was created",
            reason="NO_SECRET_KEY",
        ) from None
    if key is None:
        raise FailedPrecondition(
            f"p13n {command} needs the auth service's secret key: {SECRET_KEY} is not set "
            f"and {path} does not exist. Run it where the auth service runs, e.g. "
            f"`{IN_THE_AUTH_POD.format(command=command)}` (that pod has {SECRET_KEY}), or "
            f"set {SECRET_KEY} to the auth service's key; nothing was created",
            reason="NO_SECRET_KEY",
        )
    return key


async def _open_auth_store(where: Path | Settings, command: str) -> SqlAuthStore:
    """The auth service's store, opened only where the auth service made it."""
    await require_auth_database(where, command)
    return await open_store(where)


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
    store = await _open_auth_store(where, "bootstrap")
    try:
        await store.check_secret_key(secret_key)
        created = await store.bootstrap_account(
            account.strip(), email, password_hash, keys.lookup_hash(key), now
        )
    finally:
        await store.close()
    # The reasons are the conflicts' names, so that a caller can tell "it is there already"
    # from the other refusals (services/demo/loader.py does).
    if created is Conflict.ACCOUNT_NAME_TAKEN:
        raise FailedPrecondition(
            f"Account {account.strip()!r} already exists; nothing was changed",
            reason=created.value,
        )
    if created is Conflict.EMAIL_TAKEN:
        raise FailedPrecondition(
            f"A user {email} already exists; nothing was changed", reason=created.value
        )
    return {
        "account_id": str(created.account_id),
        "user_id": str(created.user_id),
        "api_key": key.reveal(),
    }


async def set_flag(where: Path | Settings, account_id: str, flag: str, on: bool) -> None:
    """Turns one of an account's feature flags on or off."""
    if flag not in KNOWN_FLAGS:
        raise InvalidArgument(f"Unknown flag {flag!r}; known flags: {', '.join(KNOWN_FLAGS)}")
    store = await _open_auth_store(where, "flags set")
    try:
        account = path_id(account_id)
        found = account > 0 and await store.set_flag(account, flag, on)
    finally:
        await store.close()
    if not found:
        raise NotFound(f"Account {account_id!r} not found")
