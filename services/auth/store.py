"""The auth service's durable state: accounts, flags, users, keys, sessions, services, tokens.

Secrets are never stored in clear: API keys, session tokens and token secrets are kept as
an HMAC lookup hash; token secrets also as an AES-GCM copy for reveal; passwords as
argon2id hashes. Every change that affects a data-plane decision bumps ``generation``, which
every auth process polls to refresh its in-memory directory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

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
]

WRONG_KEY_MESSAGE = (
    "P13N_SECRET_KEY is not the key this data directory's auth database was created with. "
    "Use the running suite's key: its P13N_SECRET_KEY, or unset it to read secret.key from "
    "the data directory"
)


def database_path(data_dir: Path) -> Path:
    return data_dir / "auth.db"


async def open_store(data_dir: Path) -> Database:
    return await Database.open(database_path(data_dir), MIGRATIONS)


async def check_secret_key(db: Database, secret_key: bytes) -> None:
    """Records the key's fingerprint on first use; refuses a different key afterwards."""
    fingerprint = hmac.new(secret_key, b"p13n auth secret key check", hashlib.sha256).digest()
    async with db.transaction() as conn:
        row = await fetch_one(conn, "SELECT fingerprint FROM secret_key_check WHERE id = 1")
        if row is None:
            await conn.execute(
                "INSERT INTO secret_key_check (id, fingerprint) VALUES (1, ?)", (fingerprint,)
            )
        elif not hmac.compare_digest(bytes(row["fingerprint"]), fingerprint):
            raise FailedPrecondition(WRONG_KEY_MESSAGE, reason="WRONG_SECRET_KEY")


async def bump_generation(db: aiosqlite.Connection) -> None:
    """Tells every auth process that its directory is stale (call inside a transaction)."""
    await db.execute("UPDATE generation SET value = value + 1 WHERE id = 1")


async def read_generation(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT value FROM generation WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class ServiceRow:
    id: int
    account_id: int
    parent_segment_id: str
    reactor_id: str
    name: str
    description: str
    type: str
    allowed_origins: list[str]
    rate_per_second: int
    rate_burst: int
    create_time: float
    update_time: float

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> ServiceRow:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            parent_segment_id=row["parent_segment_id"],
            reactor_id=row["reactor_id"],
            name=row["name"],
            description=row["description"],
            type=row["type"],
            allowed_origins=json.loads(row["allowed_origins"]),
            rate_per_second=row["rate_per_second"],
            rate_burst=row["rate_burst"],
            create_time=row["create_time"],
            update_time=row["update_time"],
        )


@dataclass(frozen=True)
class TokenRow:
    id: int
    service_id: int
    name: str
    allowed_ips: list[str]
    lookup_hash: bytes
    encrypted_secret: bytes
    create_time: float

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> TokenRow:
        return cls(
            id=row["id"],
            service_id=row["service_id"],
            name=row["name"],
            allowed_ips=json.loads(row["allowed_ips"]),
            lookup_hash=bytes(row["lookup_hash"]),
            encrypted_secret=bytes(row["encrypted_secret"]),
            create_time=row["create_time"],
        )


def now() -> float:
    return time.time()
