"""The auth service's durable state: accounts, flags, users, keys, sessions, services, tokens.

``open_store`` returns one ``SqlAuthStore`` that is every part of ``AuthStore`` at once
(the Protocols of ``services.auth.store_protocols``), each part in its own module
(``registry_store``, ``identity_store``, ``credential_store``), each statement written once
for both backends (``services.common.sql``). Where it keeps them is the backend's business
(``services.auth.backends``): the data directory's SQLite file by default, or the ``auth``
schema of ``P13N_DATABASE_URL``'s PostgreSQL database. Each backend has its own list of
migrations, the same tables in its own types.

Secrets are never stored in clear: API keys, session tokens and token secrets are kept as
an HMAC lookup hash; token secrets also as an AES-GCM copy for reveal; passwords as
argon2id hashes. Every change that affects a data-plane decision bumps ``generation``, which
every auth process polls (and, on PostgreSQL, is notified of) to refresh its directory.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from services.auth.backends import Backend, PostgresBackend, SqliteBackend
from services.auth.credential_store import SqlCredentialStore
from services.auth.failure_store import SqlFailureStore
from services.auth.failures import Buckets, MemoryBuckets, StoreBuckets
from services.auth.identity_store import SqlIdentityStore
from services.auth.registry_store import SqlRegistryStore
from services.auth.secrets import SecretKeys
from services.common import audit, postgres
from services.common.config import Settings
from services.common.errors import FailedPrecondition
from services.common.storage import Database

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
    # Failure budgets shared by the processes of one store (services.auth.failure_store):
    # used on PostgreSQL; one SQLite process keeps them in memory, the table stays empty.
    """
    CREATE TABLE failure_buckets (
      budget TEXT NOT NULL,
      key TEXT NOT NULL,
      tokens REAL NOT NULL,
      updated REAL NOT NULL,
      full_at REAL NOT NULL,
      PRIMARY KEY (budget, key)
    );
    CREATE INDEX failure_buckets_by_full_at ON failure_buckets (full_at)
    """,
]

# The same tables on PostgreSQL: identity ids, DOUBLE PRECISION times, BYTEA hashes; INTEGER
# where SQLite has INTEGER values, so parameters have one type on both backends. One
# migration per SQLite migration, so a version means the same schema on both.
PG_MIGRATIONS = [
    """
    CREATE TABLE accounts (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      create_time DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE account_flags (
      account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      flag TEXT NOT NULL,
      PRIMARY KEY (account_id, flag)
    );
    CREATE TABLE users (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      email TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      role TEXT NOT NULL,
      create_time DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX users_by_account ON users (account_id);
    CREATE TABLE api_keys (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      type TEXT NOT NULL,
      lookup_hash BYTEA NOT NULL UNIQUE,
      create_time DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE sessions (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      lookup_hash BYTEA NOT NULL UNIQUE,
      expire_time DOUBLE PRECISION NOT NULL,
      authenticated_time DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX sessions_by_expiry ON sessions (expire_time);
    CREATE TABLE services (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      parent_segment_id TEXT NOT NULL,
      reactor_id TEXT NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL,
      type TEXT NOT NULL,
      allowed_origins TEXT NOT NULL,
      rate_per_second INTEGER NOT NULL,
      rate_burst INTEGER NOT NULL,
      create_time DOUBLE PRECISION NOT NULL,
      update_time DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX services_by_parent ON services (account_id, parent_segment_id);
    CREATE TABLE tokens (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      allowed_ips TEXT NOT NULL,
      lookup_hash BYTEA NOT NULL UNIQUE,
      encrypted_secret BYTEA NOT NULL,
      create_time DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX tokens_by_service ON tokens (service_id);
    CREATE TABLE generation (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      value BIGINT NOT NULL
    );
    INSERT INTO generation (id, value) VALUES (1, 0)
    """,
    """
    CREATE TABLE secret_key_check (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      fingerprint BYTEA NOT NULL
    )
    """,
    """
    CREATE TABLE identity_secrets (
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      encrypted_secret BYTEA NOT NULL,
      create_time DOUBLE PRECISION NOT NULL,
      UNIQUE (service_id, name)
    )
    """,
    audit.PG_MIGRATION,
    """
    CREATE TABLE failure_buckets (
      budget TEXT NOT NULL,
      key TEXT NOT NULL,
      tokens DOUBLE PRECISION NOT NULL,
      updated DOUBLE PRECISION NOT NULL,
      full_at DOUBLE PRECISION NOT NULL,
      PRIMARY KEY (budget, key)
    );
    CREATE INDEX failure_buckets_by_full_at ON failure_buckets (full_at)
    """,
]

WRONG_SECRET_KEY = "WRONG_SECRET_KEY"  # the reason of a refusal for another key
WRONG_KEY_MESSAGE = (
    "P13N_SECRET_KEY is not the key this data directory's auth database was created with. "
    "Use the running suite's key: its P13N_SECRET_KEY, or unset it to read secret.key from "
    "the data directory"
)


class SqlAuthStore(SqlRegistryStore, SqlIdentityStore, SqlCredentialStore, SqlFailureStore):
    """``AuthStore`` on one backend (each base class is one part of it)."""

    def failure_buckets(self, keys: SecretKeys) -> Buckets:
        """Where this process keeps the admin failure budgets: shared by every replica on
        PostgreSQL (named with ``keys``); in memory on SQLite, which has one auth process."""
        if self._backend.dialect == "postgresql":
            return StoreBuckets(self, keys)
        return MemoryBuckets()

    async def check_secret_key(self, secret_key: bytes) -> None:
        fingerprint = hmac.new(secret_key, b"p13n auth secret key check", hashlib.sha256).digest()
        async with self._backend.writing() as sql:
            stored = await sql.fetchval("SELECT fingerprint FROM secret_key_check WHERE id = 1")
            if stored is None:
                await sql.execute(
                    "INSERT INTO secret_key_check (id, fingerprint) VALUES (1, ?)", fingerprint
                )
            elif not hmac.compare_digest(bytes(stored), fingerprint):
                raise FailedPrecondition(WRONG_KEY_MESSAGE, reason=WRONG_SECRET_KEY)

    def audit_log(self) -> audit.AuditLog:
        """The entries of the changes the auth service made (services, tokens, users, keys)."""
        return audit.AuditLog(self._backend.reading, "auth")

    async def close(self) -> None:
        await self._backend.close()


def database_path(data_dir: Path) -> Path:
    return data_dir / "auth.db"


async def open_store(where: Path | Settings) -> SqlAuthStore:
    """The store of ``where``: a data directory's SQLite file, or what settings name.

    A ``Path`` is the short form the operator's tests use (SQLite in that directory);
    ``Settings`` choose PostgreSQL when ``database_url`` is set.
    """
    settings = where if isinstance(where, Settings) else None
    data_dir = where if isinstance(where, Path) else where.data_dir
    backend: Backend
    if settings is not None and settings.database_url is not None:
        schema = settings.database_schema("auth")
        pool = await postgres.open_pool(
            settings.database_url, schema, PG_MIGRATIONS, application="p13n-auth"
        )
        backend = PostgresBackend(pool, settings.database_url, schema)
    else:
        backend = SqliteBackend(await Database.open(database_path(data_dir), MIGRATIONS))
    return SqlAuthStore(backend)
