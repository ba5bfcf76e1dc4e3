"""Profile storage lookups: one pair probes the key directly, many pairs join through JSON;
both must find the same profiles, each once, with every identity of its cluster."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.profile import profiles
from services.profile.attributes import ProfileState, SingleState
from services.profile.stitching import Identity
from services.profile.store import MIGRATIONS

PS = 1


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    db.row_factory = sqlite3.Row
    for script in MIGRATIONS:
        db.executescript(script)
    db.execute(
        "INSERT INTO parent_segments (id, account_id, name, description, reactor_id, "
        "primary_key, create_time) VALUES (1, 'a', 'n', '', '1', 'td_client_id', 0)"
    )
    db.execute(
        "INSERT INTO segments (id, parent_segment_id, name, sensitivity) VALUES (7, 1, 's', 'x')"
    )
    yield db
    db.close()


def state(value: str) -> ProfileState:
    return ProfileState(1.0, 1, {"last": SingleState(value, 1.0, 1)})


@pytest.fixture
def two(conn: sqlite3.Connection) -> tuple[int, int]:
    """Profile a (a browser and a user id) and profile b (one browser)."""
    a = profiles.create(conn, PS, "laptop", state("a"), 1.0)
    profiles.attach(
        conn,
        PS,
        a,
        [Identity("user_id", "u1", 2.0), Identity("td_client_id", "laptop", 1.0)],
    )
    b = profiles.create(conn, PS, "phone", state("b"), 3.0)
    profiles.attach(conn, PS, b, [Identity("td_client_id", "phone", 3.0)])
    conn.execute(
        "INSERT INTO imported_values VALUES (1, 'user_id', 'u1', '{\"tier\": \"gold\"}', 5)"
    )
    conn.execute("INSERT INTO segment_members VALUES (1, 'td_client_id', 'phone', 7, 5)")
    return a, b


def test_one_pair_finds_its_profile_with_every_identity(
    conn: sqlite3.Connection, two: tuple[int, int]
) -> None:
    a, _ = two
    (found,) = profiles.owners(conn, PS, [("user_id", "u1")])
    assert found.id == a
    assert found.canonical_id == "laptop"
    assert found.state == state("a")
    assert found.identities == (
        Identity("td_client_id", "laptop", 1.0),
        Identity("user_id", "u1", 2.0),
    )
    assert profiles.owners(conn, PS, [("user_id", "nobody")]) == []
    assert profiles.owners(conn, 2, [("user_id", "u1")]) == []  # another parent segment


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
def test_one_and_many_pairs_agree(
    conn: sqlite3.Connection,
    pairs: list[tuple[str, str]],
    expected: list[str],
) -> None:
    found = profiles.owners(conn, PS, pairs)
    names = {"laptop": "a", "phone": "b"}
    assert [names[p.canonical_id or ""] for p in found] == expected
    for profile in found:  # each as a single-pair lookup of any of its identities sees it
        for identity in profile.identities:
            assert profiles.owners(conn, PS, [(identity.key, identity.value)]) == [profile]


@pytest.mark.usefixtures("two")
def test_batch_values_by_one_pair_and_by_many_agree(conn: sqlite3.Connection) -> None:
    u1, phone = ("user_id", "u1"), ("td_client_id", "phone")
    assert profiles.imported_records(conn, PS, [u1]) == {u1: {"tier": "gold"}}
    assert profiles.imported_records(conn, PS, [u1, phone]) == {u1: {"tier": "gold"}}
    assert profiles.imported_records(conn, PS, [phone]) == {}
    assert profiles.segment_ids(conn, PS, [phone]) == {7}
    assert profiles.segment_ids(conn, PS, [u1, phone]) == {7}
    assert profiles.segment_ids(conn, PS, [u1]) == set()
