"""Profile storage lookups: one pair probes the key directly, many pairs join through a
relation of pairs (JSON on SQLite, arrays on PostgreSQL); both must find the same profiles,
each once, with every identity of its cluster, on either backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.common.config import Settings
from services.common.sql import Sql
from services.profile import backends, profiles
from services.profile.attributes import ProfileState, SingleState
from services.profile.stitching import Identity

PS = 1


@pytest.fixture
async def sql(tmp_path: Path, database_env: dict[str, str]) -> AsyncIterator[Sql]:
    """A migrated, empty store with parent segment 1 and its segment 7, on either backend."""
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **database_env})
    async with (
        backends.opened(
            tmp_path, settings.database_url, settings.database_schema("profile")
        ) as storage,
        storage.reading() as store,
    ):
        await store.execute(
            "INSERT INTO parent_segments (id, account_id, name, description, reactor_id, "
            "primary_key, create_time) VALUES (1, 'a', 'n', '', '1', 'td_client_id', 0)"
        )
        await store.execute(
            "INSERT INTO segments (id, parent_segment_id, name, sensitivity) "
            "VALUES (7, 1, 's', 'x')"
        )
        yield store


def state(value: str) -> ProfileState:
    return ProfileState(1.0, 1, {"last": SingleState(value, 1.0, 1)})


@pytest.fixture
async def two(sql: Sql) -> tuple[int, int]:
    """Profile a (a browser and a user id) and profile b (one browser)."""
    a = await profiles.create(sql, PS, "laptop", state("a"), 1.0)
    await profiles.attach(
        sql,
        PS,
        a,
        [Identity("user_id", "u1", 2.0), Identity("td_client_id", "laptop", 1.0)],
    )
    b = await profiles.create(sql, PS, "phone", state("b"), 3.0)
    await profiles.attach(sql, PS, b, [Identity("td_client_id", "phone", 3.0)])
    await sql.execute(
        "INSERT INTO imported_values VALUES (1, 'user_id', 'u1', '{\"tier\": \"gold\"}', 5)"
    )
    await sql.execute("INSERT INTO segment_members VALUES (1, 'td_client_id', 'phone', 7, 5)")
    return a, b


async def test_one_pair_finds_its_profile_with_every_identity(
    sql: Sql, two: tuple[int, int]
) -> None:
    a, _ = two
    (found,) = await profiles.owners(sql, PS, [("user_id", "u1")])
    assert found.id == a
    assert found.canonical_id == "laptop"
    assert found.state == state("a")
    assert found.identities == (
        Identity("td_client_id", "laptop", 1.0),
        Identity("user_id", "u1", 2.0),
    )
    assert await profiles.owners(sql, PS, [("user_id", "nobody")]) == []
    assert await profiles.owners(sql, 2, [("user_id", "u1")]) == []  # another parent segment


@pytest.mark.usefixtures("two")
@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        pytest.param([("td_client_id", "laptop")], ["a"], id="one"),
        pytest.param([("td_client_id", "laptop"), ("user_id", "u1")], ["a"], id="same-profile"),
        pytest.param([("td_client_id", "phone"), ("user_id", "u1")], ["a", "b"], id="two-by-id"),
        pytest.param([("td_client_id", "phone"), ("email", "none")], ["b"], id="one-unknown"),
        pytest.param([("email", "none")], [], id="unknown"),
    ],
)
async def test_one_and_many_pairs_agree(
    sql: Sql,
    pairs: list[tuple[str, str]],
    expected: list[str],
) -> None:
    found = await profiles.owners(sql, PS, pairs)
    names = {"laptop": "a", "phone": "b"}
    assert [names[p.canonical_id or ""] for p in found] == expected
    for profile in found:  # each as a single-pair lookup of any of its identities sees it
        for identity in profile.identities:
            assert await profiles.owners(sql, PS, [(identity.key, identity.value)]) == [profile]


@pytest.mark.usefixtures("two")
async def test_batch_values_by_one_pair_and_by_many_agree(sql: Sql) -> None:
    u1, phone = ("user_id", "u1"), ("td_client_id", "phone")
    assert await profiles.imported_records(sql, PS, [u1]) == {u1: {"tier": "gold"}}
    assert await profiles.imported_records(sql, PS, [u1, phone]) == {u1: {"tier": "gold"}}
    assert await profiles.imported_records(sql, PS, [phone]) == {}
    assert await profiles.segment_ids(sql, PS, [phone]) == {7}
    assert await profiles.segment_ids(sql, PS, [u1, phone]) == {7}
    assert await profiles.segment_ids(sql, PS, [u1]) == set()
