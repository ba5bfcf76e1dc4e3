"""The audit log: one entry per admin change, written in the change's own transaction.

Each service keeps the entries of the changes it makes in an ``audit_log`` table of its own
database and writes an entry inside the transaction that makes the change (``record``), so
no change commits without its entry and no entry outlives a change rolled back. The auth
service answers ``GET /v1/audit_log`` by merging its own entries with those the profile
and offers services return (``services.auth.audit_service``).

An entry says who (the user or API key of the request's identity, or ``operator`` for the
operator's commands, which have no API identity), when, which resource
(its type, id, parent and account), what was done (create, update, delete) and the
resource before and after, as the API shows it but with every secret redacted: a field
whose name says it holds a secret (``redact``) and any string that looks like a p13n
secret, wherever it is. Redaction happens when the entry is made, so no secret is stored.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message
from p13n.auth.v1 import audit_pb2

from services.common import identity as identities
from services.common.errors import Unauthenticated
from services.common.storage import Database, fetch_all

REDACTED = "[REDACTED]"
# A page's size is bounded so that a page from one service fits a gRPC message (8 MiB):
# at most MAX_PAGE entries, each side (before, after) at most MAX_SIDE_BYTES as JSON.
MAX_PAGE = 100
MAX_READ = MAX_PAGE + 1  # a page of the largest size, and one more to tell whether another follows
MAX_SIDE_BYTES = 32 * 1024
_KEPT_SCALAR_CHARS = 200
CREATE = "create"
UPDATE = "update"
DELETE = "delete"
IMPORT = "import"  # data loaded by an import call: counts and names, never the values
# The actor of the operator's commands (``p13n bootstrap``, ``p13n flags set``): they act on
# the database directly, with no API identity.
OPERATOR = "operator"

# A field holds a secret when its name says so: tokens, passwords, secrets (identity secrets
# too), hashes, credentials, and keys (``key``, ``api_key``, ``master_key``...) except the
# names of configuration that only share the word.
_SECRET_NAME = re.compile(
    r"secret|token|passw|credential|hash|private|(^|_)key(s)?$|(^|_)key_value", re.IGNORECASE
)
_NOT_SECRET = frozenset({"primary_key", "stitching_key", "stitching_keys", "token_type"})
# An id names a resource and is never a secret itself (``token_id``, ``secret_id``,
# ``api_key_id``): kept, though a p13n secret pasted into one is still redacted by its shape.
_ID_NAME = re.compile(r"(^|_)ids?$", re.IGNORECASE)
# Anything shaped like a p13n secret (services.auth.secrets: prefix, 43 + 6 base62 digits),
# wherever it appears: a secret pasted into a description is still a secret.
_SECRET_VALUE = re.compile(r"p13n_[a-z]+_[0-9A-Za-z]{40,}")

MIGRATION = """
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    time REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    parent TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    sensitivity_lowered INTEGER NOT NULL
);
CREATE INDEX audit_log_by_account ON audit_log (account_id, id);
CREATE INDEX audit_log_by_resource ON audit_log (account_id, resource_type, resource_id, id)
"""


@dataclass(frozen=True)
class Entry:
    """One change, redacted. ``before``/``after`` are None for a create/delete."""

    account_id: str
    time: float
    actor: str
    action: str
    resource_type: str
    resource_id: str
    parent: str
    before: Any
    after: Any
    sensitivity_lowered: bool = False
    id: int = 0  # given when stored


@dataclass(frozen=True)
class Filter:
    """Which entries of an account to read: all, one resource type, or one resource."""

    account_id: str
    resource_type: str = ""
    resource_id: str = ""


def _secret_name(name: str) -> bool:
    return (
        bool(name)
        and name not in _NOT_SECRET
        and not _ID_NAME.search(name)
        and bool(_SECRET_NAME.search(name))
    )


def redact(value: Any, name: str = "") -> Any:
    """``value`` (JSON-like) with every secret replaced by ``REDACTED``."""
    if _secret_name(name) and value not in ("", None):
        return REDACTED
    if isinstance(value, Mapping):
        return {key: redact(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, name) for item in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    return value


def as_json(message: Message | Mapping[str, Any] | None) -> Any:
    """A resource as the API shows it (proto field names), redacted; None stays None."""
    if message is None:
        return None
    if isinstance(message, Message):
        plain = json_format.MessageToDict(message, preserving_proto_field_name=True)
    else:
        plain = dict(message)
    return _bounded(redact(plain))


def _bounded(plain: dict[str, Any]) -> dict[str, Any]:
    """``plain``, or its short top-level fields and a note when it is too large to keep."""
    size = len(json.dumps(plain).encode())
    if size <= MAX_SIDE_BYTES:
        return plain
    kept = {
        key: value
        for key, value in plain.items()
        if isinstance(value, (int, float, bool))
        or (isinstance(value, str) and len(value) <= _KEPT_SCALAR_CHARS)
    }
    kept["omitted"] = (
        f"The resource is {size} bytes as JSON; the audit log keeps at most {MAX_SIDE_BYTES}, "
        "so only its short top-level fields are shown"
    )
    return kept


@dataclass(frozen=True)
class Author:
    """Who makes a change: the account it is made in and the actor the log names."""

    account_id: str
    actor: str


def author() -> Author:
    """The current request's identity as an ``Author``; read it in the request's own task
    (a unit of the profile writer runs in the writer's task, where no identity is set)."""
    caller = identities.current.get()
    if caller is None or not caller.account_id:
        raise Unauthenticated("Credentials are required")
    return Author(caller.account_id, actor())


def operator(account_id: int | str) -> Author:
    """The operator's commands, which act on the database with no API identity."""
    return Author(str(account_id), OPERATOR)


def actor() -> str:
    """Who the current request acts as: ``api_keys/<id>``, ``users/<id>`` or a component."""
    caller = identities.current.get()
    if caller is None:
        raise Unauthenticated("Credentials are required")
    if caller.api_key_id:
        return f"api_keys/{caller.api_key_id}"
    if caller.user_id:
        return f"users/{caller.user_id}"
    return f"services/{caller.caller_service or 'unknown'}"


def change(
    action: str,
    resource_type: str,
    resource_id: str,
    before: Message | Mapping[str, Any] | None,
    after: Message | Mapping[str, Any] | None,
    *,
    who: Author | None = None,
    parent: str = "",
    sensitivity_lowered: bool = False,
    now: float | None = None,
) -> Entry:
    """The entry of a change made by ``who``: by default the current request's caller (its
    identity says who); given where no request identity is at hand (the operator, the
    write queue's task)."""
    who = who or author()
    return Entry(
        account_id=who.account_id,
        time=time.time() if now is None else now,
        actor=who.actor,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        parent=parent,
        before=as_json(before),
        after=as_json(after),
        sensitivity_lowered=sensitivity_lowered,
    )


async def record(connection: aiosqlite.Connection, entry: Entry) -> None:
    """Stores ``entry``; call inside the transaction that makes the change."""
    await connection.execute(
        "INSERT INTO audit_log (account_id, time, actor, action, resource_type, resource_id, "
        "parent, before, after, sensitivity_lowered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.account_id,
            entry.time,
            entry.actor,
            entry.action,
            entry.resource_type,
            entry.resource_id,
            entry.parent,
            json.dumps(entry.before, sort_keys=True),
            json.dumps(entry.after, sort_keys=True),
            int(entry.sensitivity_lowered),
        ),
    )


async def entries(
    connection: aiosqlite.Connection, which: Filter, after: int, limit: int
) -> list[Entry]:
    """Up to ``limit`` of the account's entries with ids above ``after``, oldest first."""
    sql = "SELECT * FROM audit_log WHERE account_id = ? AND id > ?"
    args: list[object] = [which.account_id, after]
    if which.resource_type:
        sql += " AND resource_type = ?"
        args.append(which.resource_type)
    if which.resource_id:
        sql += " AND resource_id = ?"
        args.append(which.resource_id)
    rows = await fetch_all(connection, sql + " ORDER BY id LIMIT ?", *args, limit)
    return [
        Entry(
            account_id=row["account_id"],
            time=row["time"],
            actor=row["actor"],
            action=row["action"],
            resource_type=row["resource_type"],
            resource_id=row["resource_id"],
            parent=row["parent"],
            before=json.loads(row["before"]),
            after=json.loads(row["after"]),
            sensitivity_lowered=bool(row["sensitivity_lowered"]),
            id=int(row["id"]),
        )
        for row in rows
    ]


def to_message(entry: Entry, source: str) -> audit_pb2.AuditEntry:
    """The API's view of an entry read from ``source`` (auth, profile or offers)."""
    message = audit_pb2.AuditEntry(
        id=f"{source}-{entry.id}",
        source=source,
        actor=entry.actor,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        parent=entry.parent,
        account_id=entry.account_id,
        sensitivity_lowered=entry.sensitivity_lowered,
    )
    message.time.FromNanoseconds(int(entry.time * 1e9))
    for field, value in (("before", entry.before), ("after", entry.after)):
        if value is not None:
            getattr(message, field).CopyFrom(_struct(value))
    return message


def to_messages(found: Sequence[Entry], source: str) -> list[audit_pb2.AuditEntry]:
    return [to_message(entry, source) for entry in found]


def _struct(value: Any) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value if isinstance(value, Mapping) else {"value": value})
    return struct


class AuditLog:
    """A service's own entries, read for the internal ``ListAuditEntries`` RPCs."""

    def __init__(self, db: Database, source: str) -> None:
        self._db = db
        self.source = source

    async def entries(self, which: Filter, after: int, limit: int) -> list[Entry]:
        async with self._db.reading() as connection:
            return await entries(connection, which, after, min(max(limit, 0), MAX_READ))

    async def answer(self, request: Any) -> list[audit_pb2.AuditEntry]:
        """The entries an internal ``ListAuditEntriesRequest`` (any service's) asks for."""
        which = Filter(request.account_id, request.resource_type, request.resource_id)
        return to_messages(await self.entries(which, request.after, request.limit), self.source)
