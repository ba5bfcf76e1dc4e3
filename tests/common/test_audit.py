"""The audit entry and its redaction: no secret value is ever stored or shown.

A field is redacted by its name (any ``*secret*``, ``*token*``, ``*password*``, hash,
credential or key field, at any depth), and a string shaped like a p13n secret is
redacted wherever it is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from p13n.auth.v1 import account_pb2, identity_pb2, personalization_service_pb2

from services.auth import secrets
from services.common import audit
from services.common import identity as identities
from services.common.errors import Unauthenticated
from services.common.sql import AsyncSqlite
from services.common.storage import Database

SECRET_NAMES = [
    "password",
    "token",
    "key",
    "api_key",
    "master_key",
    "identity_secret",
    "secret",
    "lookup_hash",
    "session_token",
    "client_secret",
    "new_password",
    "key_value",
    "credentials",
]
PLAIN_NAMES = ["name", "description", "primary_key", "stitching_key", "token_type", "type", "id"]
VALUE = "s3cr3t-value-that-must-not-leak"


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_a_field_named_for_a_secret_is_redacted_at_any_depth(name: str) -> None:
    plain = {"outer": [{"inner": {name: VALUE}}], name: VALUE}
    assert VALUE not in json.dumps(audit.redact(plain))
    assert audit.redact(plain)[name] == audit.REDACTED


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_configuration_that_only_shares_a_word_is_kept(name: str) -> None:
    assert audit.redact({name: "td_client_id"}) == {name: "td_client_id"}


@pytest.mark.parametrize(
    "name", ["token_id", "secret_id", "api_key_id", "identity_secret_id", "key_id", "token_ids"]
)
def test_an_id_is_kept_though_its_name_shares_a_secrets_word(name: str) -> None:
    # An id names a resource; hiding it hid which token a change was about.
    assert audit.redact({"outer": {name: "42"}}) == {"outer": {name: "42"}}


@pytest.mark.parametrize("name", ["token_id", "secret_id", "api_key_id"])
def test_a_secret_pasted_into_an_id_is_still_redacted(name: str) -> None:
    secret = secrets.generate_secret(secrets.SecretKind.MASTER_KEY).reveal()
    assert audit.redact({name: secret}) == {name: audit.REDACTED}


@pytest.mark.parametrize("name", ["idea_token", "token_idx", "valid_secret", "id_token"])
def test_a_name_that_only_contains_id_is_still_a_secrets_name(name: str) -> None:
    assert audit.redact({name: VALUE}) == {name: audit.REDACTED}


def test_an_empty_secret_field_stays_empty() -> None:
    # An unset field says "none was set", which is not a secret.
    assert audit.redact({"token": ""}) == {"token": ""}


@given(
    st.recursive(
        st.text(max_size=8) | st.integers() | st.booleans() | st.none(),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=12,
    ),
    st.sampled_from(list(secrets.SecretKind)),
)
def test_a_p13n_secret_is_redacted_wherever_it_is(shape: Any, kind: secrets.SecretKind) -> None:
    secret = secrets.generate_secret(kind).reveal()
    placed = {"description": f"see {secret}.", "nested": [shape, {"note": secret}]}
    assert secret not in json.dumps(audit.redact(placed))


def test_a_token_and_a_key_as_the_api_returns_them_are_redacted() -> None:
    token = secrets.make_token("7", "3", secrets.generate_secret(secrets.SecretKind.PUBLIC_TOKEN))
    message = personalization_service_pb2.Token(id="5", name="web", token=token.reveal())
    key = account_pb2.ApiKey(id="9", key="p13n_master_x", type=identity_pb2.MASTER)
    user = account_pb2.User(id="2", email="a@b.example", password="hunter2hunter2")
    shown = json.dumps([audit.as_json(message), audit.as_json(key), audit.as_json(user)])
    for value in (token.reveal(), "p13n_master_x", "hunter2hunter2"):
        assert value not in shown
    assert audit.as_json(message)["name"] == "web"


def _as(identity: identity_pb2.Identity) -> None:
    identities.current.set(identity)


def test_an_entry_names_who_made_the_change() -> None:
    _as(identity_pb2.Identity(account_id="7", user_id="3", role=identity_pb2.ADMIN))
    entry = audit.change(audit.UPDATE, "attribute", "5", {"a": 1}, {"a": 2}, now=10.0)
    assert (entry.account_id, entry.actor, entry.time) == ("7", "users/3", 10.0)
    _as(identity_pb2.Identity(account_id="7", api_key_id="4", api_key_type=identity_pb2.MASTER))
    assert audit.actor() == "api_keys/4"
    identities.current.set(None)
    with pytest.raises(Unauthenticated):
        audit.change(audit.CREATE, "attribute", "5", None, {})


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await Database.open(tmp_path / "audit.db", [audit.MIGRATION])
    try:
        yield opened
    finally:
        await opened.close()


def _entry(account: str, kind: str, resource_id: str, n: int) -> audit.Entry:
    return audit.Entry(
        account_id=account,
        time=float(n),
        actor="users/1",
        action=audit.UPDATE,
        resource_type=kind,
        resource_id=resource_id,
        parent="parent_segments/1",
        before={"n": n - 1},
        after={"n": n},
        sensitivity_lowered=n == 3,
    )


async def test_entries_are_read_back_by_account_type_and_id(db: Database) -> None:
    rows = [("1", "attribute", "5"), ("1", "segment", "5"), ("2", "attribute", "5")]
    rows += [("1", "attribute", "6"), ("1", "attribute", "5")]
    for n, (account, kind, resource_id) in enumerate(rows, start=1):
        async with db.transaction() as connection:
            await audit.record(AsyncSqlite(connection), _entry(account, kind, resource_id, n))
    log = audit.AuditLog(db.sql_reading, "profile")

    async def ids(which: audit.Filter, after: int = 0, limit: int = 10) -> list[int]:
        return [e.id for e in await log.entries(which, after, limit)]

    assert await ids(audit.Filter("1")) == [1, 2, 4, 5]
    assert await ids(audit.Filter("1", "attribute")) == [1, 4, 5]
    assert await ids(audit.Filter("1", "attribute", "5")) == [1, 5]
    assert await ids(audit.Filter("1"), after=2, limit=1) == [4]
    assert await ids(audit.Filter("3")) == []
    third = (await log.entries(audit.Filter("1", "segment"), 0, 1))[0]
    message = audit.to_message(third, "profile")
    assert (message.id, message.source, message.sensitivity_lowered) == (
        "profile-2",
        "profile",
        False,
    )
    assert dict(message.after) == {"n": 2.0}
    assert message.time.seconds == 2


def test_a_huge_resource_is_kept_short() -> None:
    huge = {"id": "5", "name": "big", "description": "x" * 5_000_000, "sections": [{"a": 1}]}
    kept = audit.as_json(huge)
    assert len(json.dumps(kept)) < 1_000
    assert kept["id"] == "5"
    assert kept["name"] == "big"
    assert "description" not in kept
    assert kept["omitted"].startswith("The resource is 5")
    small = {"id": "5", "description": "x" * 1_000}
    assert audit.as_json(small) == small
