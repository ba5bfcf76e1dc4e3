"""Two replicas of the profile store on one PostgreSQL schema, writing at once.

Each replica is what a profile process opens (``backends.opened``: its own pool, its own
configuration cache); Tracks go through ``SqlProfileStore``, the store the handlers use.
Visitors' identifiers overlap, so the replicas merge the same profiles concurrently. What
must hold whatever the interleaving: every acknowledged event is stored exactly once, each
stitched visitor is one profile whose counter equals its events, and merge protection and
the merge log count across replicas (no duplicate entry, no profile absorbed twice).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from p13n.profile.v1 import realtime_config_pb2 as pb
from support import profile_replicas as fleet
from support.profile_replicas import ACCOUNT

from services.common import events
from services.common.config import Settings
from services.common.errors import Unavailable
from services.common.sql import Sql
from services.profile import backends
from services.profile.config_store import EVENTS
from services.profile.postgres_profile import PostgresTransactions
from services.profile.store import PG_MIGRATIONS

VISITORS = 200
EVENTS_PER_VISITOR = 8
CLIENTS = 32


def _visitor_events(visitor: int) -> list[events.Event]:
    """Two browsers and a user id: both browsers sign in, so the three are one visitor."""
    a, b, user = f"c{visitor}a", f"c{visitor}b", f"u{visitor}"
    shapes = [
        {"td_client_id": a},
        {"td_client_id": b},
        {"td_client_id": a, "user_id": user},
        {"td_client_id": b, "user_id": user},
    ]
    rng = random.Random(visitor)
    chosen = shapes + [rng.choice(shapes) for _ in range(EVENTS_PER_VISITOR - len(shapes))]
    rng.shuffle(chosen)
    return [{**shape, "n": f"{visitor}.{i}"} for i, shape in enumerate(chosen)]


async def test_two_replicas_stitching_overlapping_visitors_store_each_event_once(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as replicas:
        ps = await fleet.shop(replicas[0][1])
        queue = [event for v in range(VISITORS) for event in _visitor_events(v)]
        random.Random(7).shuffle(queue)
        acknowledged: list[events.Event] = []

        async def client(number: int) -> None:
            store = replicas[number % 2][0]  # alternate clients between the replicas
            while queue:
                event = queue.pop()
                await fleet.track(store, ps, event, time.time())
                acknowledged.append(event)

        await asyncio.gather(*(client(n) for n in range(CLIENTS)))
        storage = replicas[0][1]
        stored = Counter(
            json.loads(r[0])["n"] for r in await fleet.rows(storage, "SELECT body FROM events")
        )
        owners = await fleet.rows(storage, "SELECT key, value, profile_id FROM identities")
        states = {
            r[0]: (json.loads(r[1]), r[2])
            for r in await fleet.rows(storage, "SELECT id, state, cluster_size FROM profiles")
        }
        merges = await fleet.rows(
            storage, "SELECT outcome, surviving_profile, absorbed_profiles FROM merge_log"
        )
        retries = sum(
            s.transactions.retries
            for _, s in replicas
            if isinstance(s.transactions, PostgresTransactions)
        )

    assert len(acknowledged) == VISITORS * EVENTS_PER_VISITOR
    assert stored == {event["n"]: 1 for event in acknowledged}  # each exactly once
    assert len(states) == VISITORS  # one profile per visitor: none split, none shared
    by_visitor: dict[str, set[int]] = {}
    for _key, value, profile_id in owners:
        by_visitor.setdefault(value.lstrip("cu").rstrip("ab"), set()).add(profile_id)
    assert len(owners) == 3 * VISITORS
    assert all(len(ids) == 1 for ids in by_visitor.values())
    for visitor, (profile_id,) in by_visitor.items():
        state, _size = states[profile_id]
        (views,) = [a for name, a in state["attributes"].items() if name == "views"]
        assert sum(int(amount) for _, amount in views["buckets"]) == EVENTS_PER_VISITOR, visitor
    # The merge log: only merges (no protection applies), and no profile absorbed twice;
    # each visitor's cluster size is one more than the profiles its merges absorbed.
    assert {m[0] for m in merges} <= {"merge"}
    absorbed = [label for m in merges for label in json.loads(m[2])]
    assert len(absorbed) == len(set(absorbed))
    assert sum(size for _, size in states.values()) == VISITORS + len(absorbed)
    print(f"retried writes: {retries}")  # shown with -s: how often the replicas collided


async def test_merge_protection_holds_across_replicas(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as replicas:
        ps = await fleet.shop(replicas[0][1])
        start = time.time()
        for n in range(51):  # 51 browsers, their profiles created through both replicas
            await fleet.track(replicas[n % 2][0], ps, {"td_client_id": f"d{n:02}"}, start + n)
        # A shared user id links them all at once, through both replicas.
        await asyncio.gather(
            *(
                fleet.track(
                    replicas[n % 2][0],
                    ps,
                    {"td_client_id": f"d{n:02}", "user_id": "u1"},
                    start + 60,
                )
                for n in range(51)
            )
        )
        storage = replicas[0][1]
        sizes = sorted(r[0] for r in await fleet.rows(storage, "SELECT cluster_size FROM profiles"))
        merges = await fleet.rows(
            storage, "SELECT outcome, reason, absorbed_profiles FROM merge_log ORDER BY id"
        )

    assert sizes == [1, 50]  # 50 profiles in one, the 51st left alone
    outcomes = Counter(m[0] for m in merges)
    assert outcomes == {"merge": 49, "refused": 1}
    (refused,) = [m for m in merges if m[0] == "refused"]
    assert refused[1] == "merge would put 51 profiles into one (limit 50)"
    absorbed = [label for m in merges if m[0] == "merge" for label in json.loads(m[2])]
    assert len(absorbed) == len(set(absorbed)) == 49


async def test_a_101st_value_is_refused_across_replicas(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as replicas:
        ps = await fleet.shop(replicas[0][1])
        now = time.time()
        await fleet.track(replicas[0][0], ps, {"td_client_id": "bot"}, now)
        await asyncio.gather(
            *(
                fleet.track(
                    replicas[n % 2][0], ps, {"td_client_id": "bot", "user_id": f"u{n}"}, now
                )
                for n in range(1, 102)
            )
        )
        storage = replicas[0][1]
        users = await fleet.rows(storage, "SELECT count(*) FROM identities WHERE key = 'user_id'")
        merges = await fleet.rows(storage, "SELECT outcome, reason FROM merge_log")

    assert users == [(100,)]
    assert [m[0] for m in merges] == ["refused"]
    assert "101 values of key 'user_id'" in merges[0][1]


async def test_the_50_profile_limit_holds_when_events_link_through_different_identifiers(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """Each event links a browser to the big cluster through a user id of its own: no two
    share an identifier (nor, mostly, a lock stripe), so only the cluster profile's lock
    makes them take turns (the tests above share one identifier, which serializes them
    whatever the profile locks do)."""
    async with fleet.replicas(tmp_path, postgres_env) as replicas:
        stores = [store for store, _ in replicas]
        ps = await fleet.shop(replicas[0][1])
        start = time.time()
        await fleet.track(stores[0], ps, {"td_client_id": "c"}, start)
        for n in range(60):  # one cluster: a browser and 60 user ids
            await fleet.track(stores[n % 2], ps, {"td_client_id": "c", "user_id": f"x{n}"}, start)
        for n in range(60):  # 60 other browsers, a profile each
            await fleet.track(stores[n % 2], ps, {"td_client_id": f"d{n:02}"}, start + 1 + n)
        await asyncio.gather(
            *(
                fleet.track(
                    stores[n % 2], ps, {"td_client_id": f"d{n:02}", "user_id": f"x{n}"}, start + 99
                )
                for n in range(60)
            )
        )
        storage = replicas[0][1]
        sizes = Counter(
            r[0] for r in await fleet.rows(storage, "SELECT cluster_size FROM profiles")
        )
        outcomes = Counter(r[0] for r in await fleet.rows(storage, "SELECT outcome FROM merge_log"))

    assert sizes == {50: 1, 1: 11}  # the cluster took 49 browsers; 11 were refused
    assert outcomes == {"merge": 49, "refused": 11}


async def test_the_100_value_limit_holds_when_events_reach_a_cluster_through_different_identifiers(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """Each event adds a user id to one cluster, reached through an email of its own."""
    async with fleet.replicas(tmp_path, postgres_env) as replicas:
        stores = [store for store, _ in replicas]
        ps = await fleet.shop(replicas[0][1], keys=("user_id", "email"))
        now = time.time()
        await fleet.track(stores[0], ps, {"td_client_id": "c"}, now)
        for n in range(50):
            await fleet.track(stores[n % 2], ps, {"td_client_id": "c", "user_id": f"y{n}"}, now)
        for n in range(60):
            await fleet.track(stores[n % 2], ps, {"td_client_id": "c", "email": f"e{n}"}, now)
        await asyncio.gather(
            *(
                fleet.track(stores[n % 2], ps, {"email": f"e{n}", "user_id": f"new{n}"}, now)
                for n in range(60)
            )
        )
        storage = replicas[0][1]
        users = await fleet.rows(
            storage, "SELECT count(*) FROM identities WHERE key = 'user_id' GROUP BY profile_id"
        )
        outcomes = Counter(r[0] for r in await fleet.rows(storage, "SELECT outcome FROM merge_log"))

    assert [u[0] for u in users] == [100]  # 50 more user ids joined; 10 were refused
    assert outcomes == {"refused": 10}


@pytest.mark.parametrize("count", [2])
async def test_replicas_started_together_migrate_once(
    tmp_path: Path, postgres_env: dict[str, str], count: int
) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **postgres_env})
    schema = settings.database_schema("profile")

    async def open_and_count() -> int:
        async with backends.opened(tmp_path, settings.database_url, schema) as storage:
            rows = await fleet.rows(storage, "SELECT count(*) FROM schema_migrations")
            return int(rows[0][0])

    migrations = len(PG_MIGRATIONS)
    assert await asyncio.gather(*(open_and_count() for _ in range(count))) == [migrations] * count


async def test_a_configuration_change_through_one_replica_is_used_by_the_other_at_once(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async with fleet.replicas(tmp_path, postgres_env) as replicas:
        (_, a_storage), (b, _) = replicas
        ps = await fleet.shop(a_storage)
        first = await fleet.track(b, ps, {"td_client_id": "c1"}, time.time())  # b caches it
        async with a_storage.configs.writing() as writer:  # a adds a table and an event
            await writer.insert(
                EVENTS, int(ps), pb.EventDefinition(name="buy", database="shop", table="orders")
            )
        bought = await b.track(
            ACCOUNT, ps, "shop", "orders", ({"td_client_id": "c1"}, "{}"), time.time(), None
        )
        # Ingest finds the account's segments by table through an index cached per generation.
        ingested = await b.ingest(
            ACCOUNT, "shop", "orders", [({"td_client_id": "c2"}, "{}")], time.time(), None
        )

    assert list(first.matched_events) == ["view"]
    assert list(bought.matched_events) == ["buy"]
    assert bought.config_version > first.config_version
    assert ingested == 1


def _clusters(sent: list[events.Event]) -> int:
    """How many profiles the events make: identifiers linked by any event are one."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for event in sent:
        ids = [str(event[k]) for k in ("td_client_id", "user_id") if k in event]
        for other in ids[1:]:
            parent[root(other)] = root(ids[0])
        root(ids[0])
    return len({root(x) for x in parent})


async def test_ingest_batches_and_tracks_through_both_replicas_store_each_event_once(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """Batches of records for overlapping visitors, in different orders, with single Tracks
    of the same visitors, all at once: a batch is one transaction locking many identifiers
    and profiles, so this is where locks could cross (and deadlock)."""
    async with fleet.replicas(tmp_path, postgres_env) as replicas:
        ps = await fleet.shop(replicas[0][1])
        records = [event for v in range(20) for event in _visitor_events(v)]
        batches = [
            [{**e, "n": f"{n}.{i}"} for i, e in enumerate(random.Random(n).sample(records, 20))]
            for n in range(16)
        ]
        singles = [
            {**e, "n": f"t.{i}"} for i, e in enumerate(random.Random(99).sample(records, 40))
        ]
        ingests = [
            replicas[n % 2][0].ingest(
                ACCOUNT, "shop", "views", [(e, events.encode(e)) for e in batch], time.time(), None
            )
            for n, batch in enumerate(batches)
        ]
        tracks = [
            fleet.track(replicas[i % 2][0], ps, e, time.time()) for i, e in enumerate(singles)
        ]
        began = time.monotonic()
        await asyncio.gather(*ingests, *tracks)
        took = time.monotonic() - began
        storage = replicas[0][1]
        stored = Counter(
            json.loads(r[0])["n"] for r in await fleet.rows(storage, "SELECT body FROM events")
        )
        states = [json.loads(r[0]) for r in await fleet.rows(storage, "SELECT state FROM profiles")]

    sent = [e["n"] for batch in batches for e in batch] + [e["n"] for e in singles]
    assert stored == dict.fromkeys(sent, 1)
    views = sum(int(a) for s in states for _, a in s["attributes"]["views"]["buckets"])
    assert views == len(sent)
    assert len(states) == _clusters([e for batch in batches for e in batch] + singles)
    print(f"took {took:.2f} s")  # seconds would mean deadlocks broken by the server


async def test_configuration_writers_of_both_replicas_take_turns(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    """A new parent segment's id is the next unused one: read, then written, in one writer
    transaction; writers of both replicas at once must still get distinct ids."""
    async with fleet.replicas(tmp_path, postgres_env) as replicas:

        async def create(n: int) -> int:
            async with replicas[n % 2][1].configs.writing() as writer:
                created = await writer.create_parent_segment(ACCOUNT, f"S{n}", "", "id", 1.0)
                await asyncio.sleep(0.01)  # hold the transaction: the other replica waits
            return int(created.id)

        ids = await asyncio.gather(*(create(n) for n in range(10)))

    assert sorted(ids) == list(range(1, 11))


async def test_a_connection_lost_mid_write_is_unavailable_and_the_next_write_reconnects(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    async with fleet.replicas(tmp_path, postgres_env, count=1) as ((store, storage),):
        ps = await fleet.shop(storage)

        async def slow(sql: Sql) -> None:
            await sql.fetchval("SELECT pg_sleep(10)")

        write = asyncio.create_task(storage.transactions.write(slow))
        other = await asyncpg.connect(postgres_env["P13N_DATABASE_URL"])
        try:  # the write's connection goes away under it, as in a database restart
            for _ in range(500):  # once the write is in the server
                if await other.fetchval(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'SELECT pg_sleep%' AND datname = current_database()"
                ):
                    break
                await asyncio.sleep(0.01)
        finally:
            await other.close()
        with pytest.raises(Unavailable, match=r"^The profile store is unavailable; retry shortly$"):
            await write
        reply = await fleet.track(store, ps, {"td_client_id": "c1"}, time.time())

    assert reply.canonical_id == "c1"
