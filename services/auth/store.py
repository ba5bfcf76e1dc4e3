"""The auth service's durable state in SQLite: accounts, flags, users, keys, sessions, services, tokens.

The SQLite backend of the Protocols in ``services.auth.store_protocols``: ``open_store``
returns one ``SqliteAuthStore`` that is every part of ``AuthStore`` at once, each part in its
own module (``registry_store``, ``identity_store``, ``credential_store``).

Secrets are never stored in clear: API keys, session tokens and token secrets are kept as
an HMAC lookup hash; token secrets also as an AES-GCM copy for reveal; passwords as
argon2id hashes. Every change that affects a data-plane decision bumps ``generation``, which
every auth process polls to refresh its in-memory directory.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from services.auth.credential_store import SqliteCredentialStore
from services.auth.identity_store import SqliteIdentityStore
from services.auth.registry_store import SqliteRegistryStore
from services.common import audit
from services.common.errors import FailedPrecondition
from services.common.storage import Database, fetch_one

MIGRATIONS = [
    """
    CREATE TABLE accounts (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      create_time REAL NOT NULL
    );
    CREATE TABLE account_flags (
      account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      flag TEXT NOT NULL,
      PRIMARY KEY (account_id, flag)
    );
    CREATE TABLE users (
      id INTEGER PRIMARY KEY,
      account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      email TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      role TEXT NOT NULL,
      create_time REAL NOT NULL
    );
    CREATE TABLE api_keys (
      id INTEGER PRIMARY KEY,
      account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      type TEXT NOT NULL,
      lookup_hash BLOB NOT NULL UNIQUE,
      create_time REAL NOT NULL
    );
    CREATE TABLE sessions (
      id INTEGER PRIMARY KEY,
      user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      lookup_hash BLOB NOT NULL UNIQUE,
      expire_time REAL NOT NULL,
      authenticated_time REAL NOT NULL
    );
    CREATE TABLE services (
      id INTEGER PRIMARY KEY,
      account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      parent_segment_id TEXT NOT NULL,
      reactor_id TEXT NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL,
      type TEXT NOT NULL,
      allowed_origins TEXT NOT NULL,
      rate_per_second INTEGER NOT NULL,
      rate_burst INTEGER NOT NULL,
      create_time REAL NOT NULL,
      update_time REAL NOT NULL
    );
    CREATE INDEX services_by_parent ON services (account_id, parent_segment_id);
    CREATE TABLE tokens (
      id INTEGER PRIMARY KEY,
      service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      allowed_ips TEXT NOT NULL,
      lookup_hash BLOB NOT NULL UNIQUE,
      encrypted_secret BLOB NOT NULL,
      create_time REAL NOT NULL
    );
    CREATE INDEX tokens_by_service ON tokens (service_id);
    CREATE TABLE generation (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      value INTEGER NOT NULL
    );
    INSERT INTO generation (id, value) VALUES (1, 0)
    """,
    # A fingerprint of P13N_SECRET_KEY, so that a process with another key (a CLI run
    # without the suite's key) fails loudly instead of writing hashes nobody can match.
    """
    CREATE TABLE secret_key_check (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      fingerprint BLOB NOT NULL
    )
    """,
    # Identity secrets of public services (issue 13): kept only as an encrypted copy, since
    # the profile service needs each value to check proofs, and nothing looks one up by value.
    """
    CREATE TABLE identity_secrets (
      id INTEGER PRIMARY KEY,
      service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      encrypted_secret BLOB NOT NULL,
      create_time REAL NOT NULL,
      UNIQUE (service_id, name)
    )
    """,
    # Every admin change, in the transaction that makes it (services.common.audit).
    audit.MIGRATION,
]

WRONG_KEY_MESSAGE = (
    "P13N_SECRET_KEY is not the key this data directory's auth database was created with. "
    "Use the running suite's key: its P13N_SECRET_KEY, or unset it to read secret.key from "
    "the data directory"
)


class SqliteAuthStore(SqliteRegistryStore, SqliteIdentityStore, SqliteCredentialStore):
    """``AuthStore`` on one SQLite database (each base class is one part of it)."""

    async def check_secret_key(self, secret_key: bytes) -> None:
        fingerprint = hmac.new(secret_key, b"p13n auth secret key check", hashlib.sha256).digest()
        async with self._db.transaction() as conn:
            row = await fetch_one(conn, "SELECT fingerprint FROM secret_key_check WHERE id = 1")
            if row is None:
                await conn.execute(
                    "INSERT INTO secret_key_check (id, fingerprint) VALUES (1, ?)", (fingerprint,)
                )
            elif not hmac.compare_digest(bytes(row["fingerprint"]), fingerprint):
                raise FailedPrecondition(WRONG_KEY_MESSAGE, reason="WRONG_SECRET_KEY")

    def audit_log(self) -> audit.AuditLog:
        """The entries of the changes the auth service made (services, tokens, users, keys)."""
        return audit.AuditLog(self._db.sql_reading, "auth")

    async def close(self) -> None:
        await self._db.close()


def database_path(data_dir: Path) -> Path:
    return data_dir / "auth.db"


async def open_store(data_dir: Path) -> SqliteAuthStore:
    return SqliteAuthStore(await Database.open(database_path(data_dir), MIGRATIONS))
