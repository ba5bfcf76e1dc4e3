"""Failure budgets of the admin listener: per address, and per account without a lockout.

The rules run on each place the buckets can be kept: this process's memory (SQLite's one
auth process), and the store (shared by every replica on PostgreSQL; on SQLite too, to hold
both backends to the same bucket arithmetic). Then two replicas on one PostgreSQL schema
share one budget: an attacker spreading guesses over them gets no more than one process
would allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from support.listening import HeldReconnects, terminate_listeners
from support.postgres import suite_env

from services.auth.failure_store import FAILURES_CHANNEL
from services.auth.failures import (
    ACCOUNT_ADDRESS_FAILURES,
    ACCOUNT_FAILURES,
    ADDRESS_FAILURES,
    Buckets,
    Budget,
    FailureBudgets,
    Scope,
    StoreBuckets,
    TooManyFailures,
)
from services.auth.secrets import SecretKeys
from services.auth.store import open_store
from services.auth.store_protocols import BucketState
from services.common.config import Settings
from services.common.sql import Postgres

T = TypeVar("T")
ACCOUNT = "email:owner@shop.example"
SECRET_KEY = bytes(range(32))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Budgets:
    """The budgets under test, and where their buckets are kept."""

    budgets: FailureBudgets
    buckets: Buckets | None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@contextlib.asynccontextmanager
async def _store_buckets(
    data_dir: Path, env: dict[str, str], clock: FakeClock, secret_key: bytes = SECRET_KEY
) -> AsyncIterator[StoreBuckets]:
    store = await open_store(Settings.from_env({"P13N_DATA_DIR": str(data_dir), **env}))
    try:
        buckets = StoreBuckets(store, SecretKeys(secret_key), clock=clock)
        async with buckets.listening():
            yield buckets
    finally:
        await store.close()


@pytest.fixture(params=["memory", "sqlite-store", "postgresql-store"])
def where_kept(request: pytest.FixtureRequest) -> dict[str, str] | None:
    """None for memory; else the settings of the store's backend."""
    if request.param == "memory":
        return None
    if request.param == "sqlite-store":
        return {}
    url: str = request.getfixturevalue("postgres_url")
    return suite_env(url)


@pytest.fixture
async def kept(
    where_kept: dict[str, str] | None, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Budgets]:
    if where_kept is None:
        yield Budgets(FailureBudgets(clock=clock), None)
        return
    async with _store_buckets(tmp_path, where_kept, clock) as buckets:
        yield Budgets(FailureBudgets(buckets=buckets), buckets)


@pytest.fixture
def budgets(kept: Budgets) -> FailureBudgets:
    return kept.budgets


async def _fail_passwords(budgets: FailureBudgets, address: str, account: str, times: int) -> int:
    """Failed attempts made before the first refusal."""
    for made in range(times):
        try:
            await budgets.begin_password(address, account)
        except TooManyFailures:
            return made
    return times


def test_the_numbers_are_the_recorded_ones() -> None:
    assert (ADDRESS_FAILURES.burst, ADDRESS_FAILURES.rate * 60) == (20, 10)
    assert (ACCOUNT_FAILURES.burst, ACCOUNT_FAILURES.rate * 60) == (50, 1)
    assert (ACCOUNT_ADDRESS_FAILURES.burst, ACCOUNT_ADDRESS_FAILURES.rate * 300) == (3, 1)


async def test_an_address_is_refused_every_check_once_its_failures_are_spent(
    budgets: FailureBudgets, clock: FakeClock
) -> None:
    for _ in range(ADDRESS_FAILURES.burst):
        budgets.check_address("192.0.2.1")
        budgets.failed("192.0.2.1")
    with pytest.raises(TooManyFailures) as refused:
        budgets.check_address("192.0.2.1")
    assert refused.value.scope is Scope.ADDRESS
    assert refused.value.retry_after == pytest.approx(6)  # one failure refills every 6 s
    budgets.check_address("192.0.2.2")  # another address is not affected
    clock.now += 6
    budgets.check_address("192.0.2.1")


async def test_password_failures_share_the_address_budget(kept: Budgets) -> None:
    budgets = kept.budgets
    for _ in range(5):
        budgets.failed("192.0.2.1")  # wrong API keys
    if kept.buckets is not None:
        await kept.buckets.settled()
    made = await _fail_passwords(budgets, "192.0.2.1", "email:a@b.example", 100)
    # Per account and address 3 are allowed only once the account's 50 are spent.
    assert made == ADDRESS_FAILURES.burst - 5
    with pytest.raises(TooManyFailures):
        budgets.check_address("192.0.2.1")


async def test_a_success_refunds_its_charge(budgets: FailureBudgets) -> None:
    for _ in range(ADDRESS_FAILURES.burst * 3):
        await (await budgets.begin_password("192.0.2.1", ACCOUNT)).succeeded()
    budgets.check_address("192.0.2.1")


async def test_a_distributed_attack_cannot_lock_the_owner_out(budgets: FailureBudgets) -> None:
    # Three addresses spend the account's 50 (20 + 20 + 10)...
    drained = [await _fail_passwords(budgets, f"198.51.100.{n}", ACCOUNT, 20) for n in (1, 2, 3)]
    assert drained == [20, 20, 10]
    # ...after which each further address gets only its own 3 for this account.
    later = [await _fail_passwords(budgets, f"198.51.100.{n}", ACCOUNT, 20) for n in range(4, 12)]
    assert set(later) == {ACCOUNT_ADDRESS_FAILURES.burst}
    with pytest.raises(TooManyFailures) as refused:
        await budgets.begin_password("198.51.100.4", ACCOUNT)
    assert refused.value.scope is Scope.ACCOUNT
    assert refused.value.retry_after == pytest.approx(300)
    # The owner, from an address that has not failed for the account, still may sign in.
    await (await budgets.begin_password("203.0.113.9", ACCOUNT)).succeeded()
    # An attacking address may still sign in to another account (its address budget holds).
    await (await budgets.begin_password("198.51.100.4", "email:someone@else.example")).succeeded()


# --- two replicas, one budget ------------------------------------------------------------


@contextlib.asynccontextmanager
async def _two_replicas(
    tmp_path: Path, postgres_env: dict[str, str], clock: FakeClock
) -> AsyncIterator[tuple[FailureBudgets, FailureBudgets]]:
    async with (
        _store_buckets(tmp_path / "a", postgres_env, clock) as a,
        _store_buckets(tmp_path / "b", postgres_env, clock) as b,
    ):
        yield FailureBudgets(buckets=a), FailureBudgets(buckets=b)


async def test_replicas_share_one_password_budget(
    tmp_path: Path, postgres_env: dict[str, str], clock: FakeClock
) -> None:
    async with _two_replicas(tmp_path, postgres_env, clock) as (a, b):
        # Guesses alternate between the replicas: together they get one address budget.
        allowed = 0
        for attempt in range(2 * ADDRESS_FAILURES.burst):
            try:
                await (a if attempt % 2 else b).begin_password("192.0.2.1", ACCOUNT)
            except TooManyFailures:
                continue
            allowed += 1
        assert allowed == ADDRESS_FAILURES.burst
        for replica in (a, b):
            with pytest.raises(TooManyFailures):
                replica.check_address("192.0.2.1")


async def test_a_replica_refuses_an_address_that_failed_on_another_within_a_second(
    tmp_path: Path, postgres_env: dict[str, str], clock: FakeClock
) -> None:
    async with _two_replicas(tmp_path, postgres_env, clock) as (a, b):
        for _ in range(ADDRESS_FAILURES.burst):
            a.failed("192.0.2.1")  # wrong API keys through A
        started = time.monotonic()
        while not _refuses(b, "192.0.2.1"):  # B hears each charge as A's store commits it
            assert time.monotonic() - started < 1.0, "B did not hear A's failures within 1 s"
            await asyncio.sleep(0.005)
        with pytest.raises(TooManyFailures) as refused:
            b.check_address("192.0.2.1")
        assert refused.value.scope is Scope.ADDRESS
        b.check_address("192.0.2.2")


async def test_a_charge_counts_while_another_replica_deletes_full_buckets(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica's clean-up of full buckets runs right after the first statement of a
    charge to a full bucket: the charge still counts."""
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **postgres_env})
    store = await open_store(settings)
    try:
        async with _CleanUp.connected(postgres_env["P13N_DATABASE_URL"], settings) as clean_up:
            await store.take_failure("address", "k", ADDRESS_FAILURES, 1000.0)  # full by 5000
            clean_up.after_next_statement(monkeypatch, now=5000.0)
            state = await store.take_failure("address", "k", ADDRESS_FAILURES, 5000.0)
            assert await clean_up.finished() == 0  # it waited for the charge: nothing was full
        assert (state.allowed, state.tokens) == (True, ADDRESS_FAILURES.burst - 1)
        # Counted in the store too: the next charge finds the bucket one token short.
        state = await store.take_failure("address", "k", ADDRESS_FAILURES, 5000.0)
        assert state.tokens == ADDRESS_FAILURES.burst - 2
    finally:
        await store.close()


class _CleanUp:
    """Another replica deleting the full buckets (as ``_forget_full_buckets`` does) at the
    worst moment: right after the first statement a charge runs on failure_buckets."""

    def __init__(self, deleter: asyncpg.Connection, watcher: asyncpg.Connection) -> None:
        self._deleter = deleter
        self._watcher = watcher
        self._deleting: asyncio.Task[str] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def connected(cls, url: str, settings: Settings) -> AsyncIterator[_CleanUp]:
        schema = {"search_path": settings.database_schema("auth")}
        deleter = await asyncpg.connect(url, server_settings=schema)
        try:
            watcher = await asyncpg.connect(url)
            try:
                yield cls(deleter, watcher)
            finally:
                await watcher.close()
        finally:
            await deleter.close()

    def after_next_statement(self, monkeypatch: pytest.MonkeyPatch, *, now: float) -> None:
        """Runs the delete of the buckets full at ``now`` after the next statement on
        failure_buckets, until it commits or waits for a lock that statement took."""

        def followed(run: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
            async def statement(sql: Postgres, query: str, *args: object) -> T:
                done = await run(sql, query, *args)
                if self._deleting is None and "failure_buckets" in query:
                    self._deleting = asyncio.create_task(
                        self._deleter.execute(
                            "DELETE FROM failure_buckets WHERE full_at <= $1", now
                        )
                    )
                    await self._until_committed_or_waiting()
                return done

            return statement

        monkeypatch.setattr(Postgres, "execute", followed(Postgres.execute))
        monkeypatch.setattr(Postgres, "fetchrow", followed(Postgres.fetchrow))

    async def finished(self) -> int:
        """How many buckets the delete deleted."""
        assert self._deleting is not None, "the charge ran no statement on failure_buckets"
        status = await self._deleting
        return int(status.split()[-1])

    async def _until_committed_or_waiting(self) -> None:
        assert self._deleting is not None
        pid = self._deleter.get_server_pid()
        async with asyncio.timeout(5):
            while not self._deleting.done():
                waits = await self._watcher.fetchval(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid
                )
                if waits == "Lock":
                    return
                await asyncio.sleep(0.005)


async def test_a_bucket_is_stored_and_announced_under_a_name_only_the_server_key_makes(
    tmp_path: Path, postgres_env: dict[str, str], clock: FakeClock
) -> None:
    """Neither the table nor a listener on the channel (any role that may LISTEN) learns
    the address or email, nor finds it by hashing candidates without the server's key."""
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **postgres_env})
    heard: list[BucketState] = []
    both_heard = asyncio.Event()

    def hear(state: BucketState) -> None:
        heard.append(state)
        if len(heard) == 2:
            both_heard.set()

    async with (
        _store_buckets(tmp_path, postgres_env, clock) as buckets,
        _store_buckets(tmp_path, postgres_env, clock, secret_key=bytes(32)) as other_key,
    ):
        store = await open_store(settings)
        try:
            async with store.listening_failures(hear, lambda: None):
                await buckets.take(Budget.ADDRESS, "192.0.2.1")
                await other_key.take(Budget.ADDRESS, "192.0.2.1")
                async with asyncio.timeout(5):
                    await both_heard.wait()
        finally:
            await store.close()
    stored = await _bucket_names(postgres_env["P13N_DATABASE_URL"], settings)
    unkeyed = {"192.0.2.1", hashlib.sha256(b"192.0.2.1").hexdigest()}
    assert not ({state.key for state in heard} | stored) & unkeyed
    assert {state.key for state in heard} == stored
    assert len(stored) == 2  # two server keys: two names for one address


async def _bucket_names(url: str, settings: Settings) -> set[str]:
    schema = {"search_path": settings.database_schema("auth")}
    conn = await asyncpg.connect(url, server_settings=schema)
    try:
        return {row["key"] for row in await conn.fetch("SELECT key FROM failure_buckets")}
    finally:
        await conn.close()


async def test_a_replica_that_missed_notifications_reads_the_buckets_back_on_reconnecting(
    tmp_path: Path,
    postgres_env: dict[str, str],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both listening sessions end and are kept from reconnecting while A spends an
    address's budget: B hears none of it, and refuses the address once reconnected."""
    held = HeldReconnects(monkeypatch)
    async with (
        _store_buckets(tmp_path / "a", postgres_env, clock) as a_buckets,
        _store_buckets(tmp_path / "b", postgres_env, clock) as b_buckets,
    ):
        a, b = FailureBudgets(buckets=a_buckets), FailureBudgets(buckets=b_buckets)
        assert await terminate_listeners(postgres_env["P13N_DATABASE_URL"], FAILURES_CHANNEL) == 2
        await held.until_waiting(2)
        for _ in range(ADDRESS_FAILURES.burst):
            a.failed("192.0.2.1")
        await a_buckets.settled()
        assert not _refuses(b, "192.0.2.1")  # B missed every charge
        held.release()
        started = time.monotonic()
        while not _refuses(b, "192.0.2.1"):
            assert time.monotonic() - started < 1.0, "B did not catch up within 1 s"
            await asyncio.sleep(0.005)


def _refuses(budgets: FailureBudgets, address: str) -> bool:
    try:
        budgets.check_address(address)
    except TooManyFailures:
        return True
    return False
