"""The operator's commands are in the audit log, by actor ``operator``.

``p13n bootstrap`` and ``p13n flags set`` act on the auth database directly, with no API
identity; their changes (an account with its owner and master key, a feature flag turned on
or off) are recorded in their own transaction like any admin change, and the master key and
the password are never in the entry. On both backends: the operator writes where the
settings say.
"""

from __future__ import annotations

import json
import os

import pytest

from services.auth import operator
from services.auth.store import open_store
from services.auth.validation import FLAG_PUBLIC_SERVICES
from services.common import audit
from services.common.config import Settings
from services.common.errors import NotFound

SECRET_KEY = os.urandom(32)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def where(auth_database: Settings) -> Settings:
    return auth_database


async def _entries(data_dir: Settings, account_id: str) -> list[audit.Entry]:
    store = await open_store(data_dir)
    try:
        return await store.audit_log().entries(audit.Filter(account_id), 0, audit.MAX_READ)
    finally:
        await store.close()


async def _bootstrap(data_dir: Settings) -> dict[str, str]:
    return await operator.bootstrap(
        data_dir, SECRET_KEY, email="owner@shop.example", password=PASSWORD, account="Shop"
    )


async def test_bootstrap_records_the_account_its_owner_and_key_without_secrets(
    where: Settings,
) -> None:
    boot = await _bootstrap(where)
    found = await _entries(where, boot["account_id"])
    assert [(e.actor, e.action, e.resource_type, e.after) for e in found] == [
        ("operator", "create", "account", {"id": boot["account_id"], "name": "Shop"}),
        (
            "operator",
            "create",
            "user",
            {"id": boot["user_id"], "email": "owner@shop.example", "role": "OWNER"},
        ),
        ("operator", "create", "api_key", {"id": found[2].resource_id, "type": "MASTER"}),
    ]
    log = json.dumps([e.__dict__ for e in found])
    assert boot["api_key"] not in log
    assert PASSWORD not in log


async def test_flags_set_records_before_and_after_by_the_operator(where: Settings) -> None:
    boot = await _bootstrap(where)
    await operator.set_flag(where, boot["account_id"], FLAG_PUBLIC_SERVICES, True)
    await operator.set_flag(where, boot["account_id"], FLAG_PUBLIC_SERVICES, False)

    flags = [e for e in await _entries(where, boot["account_id"]) if e.resource_type == "flag"]
    assert [(e.actor, e.action, e.resource_id, e.before, e.after) for e in flags] == [
        (
            "operator",
            "update",
            FLAG_PUBLIC_SERVICES,
            {"name": FLAG_PUBLIC_SERVICES, "on": False},
            {"name": FLAG_PUBLIC_SERVICES, "on": True},
        ),
        (
            "operator",
            "update",
            FLAG_PUBLIC_SERVICES,
            {"name": FLAG_PUBLIC_SERVICES, "on": True},
            {"name": FLAG_PUBLIC_SERVICES, "on": False},
        ),
    ]


async def test_a_flag_of_no_account_records_nothing(where: Settings) -> None:
    boot = await _bootstrap(where)
    missing = str(int(boot["account_id"]) + 1)
    with pytest.raises(NotFound):
        await operator.set_flag(where, missing, FLAG_PUBLIC_SERVICES, True)
    assert await _entries(where, missing) == []
