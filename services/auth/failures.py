"""Failure budgets of the admin listener's credential checks: how many wrong guesses it takes.

A password can be guessed; an API key or a session (256 random bits) cannot, but a scan of
them costs us work and hides in the noise. So on the admin listener every failed credential
check -- an API key, a session, a sign-in or a re-authentication password -- spends one
token of its client address's budget, and an address whose budget is spent is refused every
credential check, right or wrong, until it refills: otherwise a correct guess would still get
through and the limit would only change the status of the wrong ones. Other addresses keep
their own budgets, so a scanner never locks out the owner working from elsewhere.

Passwords are also counted per account (the email at sign-in, the user at re-authentication),
against a guesser that spreads over many addresses. Spending an account's budget does not lock
the account -- an attacker could then lock out its owner at will. It only refuses the
addresses that have themselves failed for that account lately: the owner, who has not, still
signs in, and each address of a distributed attack gets a few guesses, then waits.

The numbers are far above what a person typing or a script with a stale key produces in a
minute, and far below a scan: docs/design.md#failure-limits records them.

Where the budgets live is a ``Buckets``: this process's memory on SQLite (one auth process; a
restart forgives them), or the store on PostgreSQL (``StoreBuckets``), shared by every
replica, so N replicas do not give an attacker N budgets. There a password attempt is
charged in the database before argon2 runs (exact across replicas); the refusal of an
address before its credential is looked at reads what this process last heard of its
bucket (its own charges, and the others' through a notification, within milliseconds), so
that no admin decision waits on the database.

The data plane keeps its own, looser rule (``directory.FAILURE_LIMIT``): a token or an ingest
key failing there never blocks the valid credentials sent from the same address, because
shops' visitors and servers share carrier and office addresses with whoever misbehaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from services.auth.ratelimit import Decision, Limit, RateLimiter
from services.auth.secrets import SecretKeys
from services.auth.store_protocols import BucketState, FailureStore

log = logging.getLogger(__name__)

# Failed credential checks per client address on the admin listener: a burst of 20, then
# 10 a minute.
ADDRESS_FAILURES: Final = Limit(rate=10 / 60, burst=20)
# Failed passwords per account from all addresses together: 50, then one a minute.
ACCOUNT_FAILURES: Final = Limit(rate=1 / 60, burst=50)
# Once an account's budget is spent, failures one address may still make for it: 3, then
# one every five minutes.
ACCOUNT_ADDRESS_FAILURES: Final = Limit(rate=1 / 300, burst=3)


class Scope(enum.Enum):
    """Whose budget a refusal spent."""

    ADDRESS = "address"
    ACCOUNT = "account"


class Budget(enum.Enum):
    """The budgets a failure spends, each with its limit (``LIMITS``)."""

    ADDRESS = "address"
    ACCOUNT = "account"
    ACCOUNT_ADDRESS = "account_address"


LIMITS: Final = {
    Budget.ADDRESS: ADDRESS_FAILURES,
    Budget.ACCOUNT: ACCOUNT_FAILURES,
    Budget.ACCOUNT_ADDRESS: ACCOUNT_ADDRESS_FAILURES,
}


class TooManyFailures(Exception):
    """An attempt refused before its credential is looked at."""

    def __init__(self, scope: Scope, retry_after: float) -> None:
        super().__init__(scope, retry_after)
        self.scope = scope
        self.retry_after = retry_after  # seconds until an attempt would be considered again


@dataclass
class PasswordAttempt:
    """A password attempt charged to its budgets; a success gives the charges back."""

    _refunds: list[Callable[[], Awaitable[None]]]

    async def succeeded(self) -> None:
        refunds, self._refunds = self._refunds, []
        for refund in refunds:
            await refund()


class Buckets(Protocol):
    """Where the budgets' token buckets are kept."""

    def peek(self, budget: Budget, key: str) -> Decision:
        """Whether ``key`` has a failure left, taking none (never waits)."""
        ...

    def spend(self, budget: Budget, key: str) -> None:
        """Spends one failure now, without waiting for the answer (the admin decision)."""
        ...

    async def take(self, budget: Budget, key: str) -> Decision:
        """Spends one failure if there is one left."""
        ...

    async def give_back(self, budget: Budget, key: str) -> None: ...

    def listening(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Hears other processes' changes while entered (where there are any)."""
        ...

    async def settled(self) -> None:
        """Returns once every ``spend`` made so far is counted where the buckets are kept."""
        ...


class MemoryBuckets:
    """The buckets in this process's memory: one auth process (SQLite)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        # Separate limiters: a flood of addresses must not evict the accounts' buckets.
        self._limiters = {budget: RateLimiter(LIMITS[budget], clock=clock) for budget in Budget}

    def peek(self, budget: Budget, key: str) -> Decision:
        return self._limiters[budget].peek(key)

    def spend(self, budget: Budget, key: str) -> None:
        self._limiters[budget].check(key)

    async def take(self, budget: Budget, key: str) -> Decision:
        return self._limiters[budget].check(key)

    async def give_back(self, budget: Budget, key: str) -> None:
        self._limiters[budget].refund(key)

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        yield  # nobody else keeps these buckets

    async def settled(self) -> None:
        return  # ``spend`` counts at once


class StoreBuckets:
    """The buckets in the store, shared by every auth process on it (PostgreSQL).

    The store changes a bucket in one transaction and tells every process its new state;
    each keeps what it heard to answer ``peek`` without a query. A ``spend`` is also counted
    in this process's own buckets at once, and ``peek`` refuses when either view does: a
    burst of failures here is refused here without waiting for the store, and neither view
    counts a failure twice. What is heard is only what was notified while this process
    listened: once listening starts, and after every reconnect (a notification sent while the
    connection was down is lost), the buckets are read back from the store. Keys are stored
    and notified under a keyed hash (``SecretKeys.bucket_name``): neither the table nor a
    listener on its channel learns an address or an email. Times are wall-clock seconds, the
    one clock replicas share.
    """

    MAX_KNOWN = 100_000  # buckets remembered; the least recently changed are forgotten

    def __init__(
        self, store: FailureStore, keys: SecretKeys, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._name_of = keys.bucket_name
        self._clock = clock
        # (budget, bucket name) -> (tokens, updated) as last heard, least recent first
        self._known: OrderedDict[tuple[Budget, str], tuple[float, float]] = OrderedDict()
        self._mine = {budget: RateLimiter(LIMITS[budget], clock=clock) for budget in Budget}
        self._spending: set[asyncio.Task[None]] = set()
        self._catching_up: set[asyncio.Task[None]] = set()
        # One set per read in flight: the buckets heard of during it, newer than it may be.
        self._heard_during_reads: list[set[tuple[Budget, str]]] = []

    def peek(self, budget: Budget, key: str) -> Decision:
        name = self._name_of(key)
        mine = self._mine[budget].peek(name)
        limit = LIMITS[budget]
        tokens, updated = self._known.get((budget, name), (float(limit.burst), self._clock()))
        tokens = limit.refill(tokens, updated, self._clock())[0]
        if tokens >= 1.0:
            return mine
        return Decision(allowed=False, retry_after=max(mine.retry_after, limit.retry_after(tokens)))

    def spend(self, budget: Budget, key: str) -> None:
        self._mine[budget].check(self._name_of(key))  # this process refuses at once
        task = asyncio.get_running_loop().create_task(self._spend(budget, key))
        self._spending.add(task)
        task.add_done_callback(self._spending.discard)

    async def take(self, budget: Budget, key: str) -> Decision:
        limit = LIMITS[budget]
        state = await self._store.take_failure(
            budget.value, self._name_of(key), limit, self._clock()
        )
        self.heard(state)
        if state.allowed:
            return Decision(allowed=True, retry_after=0.0)
        return Decision(allowed=False, retry_after=limit.retry_after(state.tokens))

    async def give_back(self, budget: Budget, key: str) -> None:
        limit = LIMITS[budget]
        self.heard(
            await self._store.give_back_failure(
                budget.value, self._name_of(key), limit, self._clock()
            )
        )

    def heard(self, state: BucketState) -> None:
        """A bucket's state as the store left it (this process's change or another's)."""
        bucket = _bucket(state)
        if bucket is None:
            return
        for heard_during_read in self._heard_during_reads:
            heard_during_read.add(bucket)
        self._remember(bucket, state.tokens, state.updated)

    def _remember(self, bucket: tuple[Budget, str], tokens: float, updated: float) -> None:
        known = self._known.get(bucket)
        if known is not None and updated < known[1]:
            return  # states may arrive out of order: never step a bucket back
        self._known[bucket] = (tokens, updated)
        self._known.move_to_end(bucket)
        if len(self._known) > self.MAX_KNOWN:
            self._known.popitem(last=False)

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """Hears the other processes' changes for the block; waits for charges in flight."""
        async with self._store.listening_failures(self.heard, self._missed):
            self._missed()  # what was charged before this process listened
            try:
                yield
            finally:
                for reading in self._catching_up:
                    reading.cancel()
                await asyncio.gather(*self._catching_up, return_exceptions=True)
                await self.settled()

    async def settled(self) -> None:
        await asyncio.gather(*self._spending, return_exceptions=True)

    def _missed(self) -> None:
        """Changes may have been missed: the store's buckets are read back in the background."""
        task = asyncio.get_running_loop().create_task(self._catch_up())
        self._catching_up.add(task)
        task.add_done_callback(self._catching_up.discard)

    async def _catch_up(self) -> None:
        """What the store holds replaces what was heard; a bucket missing there is full, as
        the store counts it, unless it was heard of during the read (that is newer)."""
        heard_during_read: set[tuple[Budget, str]] = set()
        self._heard_during_reads.append(heard_during_read)
        try:
            states = await self._store.read_failure_buckets(self._clock(), self.MAX_KNOWN)
        except Exception as error:  # the next reconnect tries again
            log.warning("failure buckets not read back: %s", type(error).__name__)
            return
        finally:
            self._heard_during_reads.remove(heard_during_read)
        newer = {bucket: self._known[bucket] for bucket in heard_during_read & self._known.keys()}
        self._known.clear()
        for state in reversed(states):  # the least recently changed first, as ``_known`` keeps
            bucket = _bucket(state)
            if bucket is not None:
                self._remember(bucket, state.tokens, state.updated)
        for bucket, (tokens, updated) in newer.items():
            self._remember(bucket, tokens, updated)

    async def _spend(self, budget: Budget, key: str) -> None:
        try:
            await self.take(budget, key)
        except Exception as error:  # still counted here; the others do not hear of it
            log.warning("a failure was not counted in the store: %s", type(error).__name__)


def _bucket(state: BucketState) -> tuple[Budget, str] | None:
    """Which of our buckets ``state`` is; None for a budget a newer version keeps."""
    budget = next((b for b in Budget if b.value == state.budget), None)
    return None if budget is None else (budget, state.key)


class FailureBudgets:
    """Per address, per account, and per account and address, in ``buckets``."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, buckets: Buckets | None = None
    ) -> None:
        self._buckets: Buckets = buckets or MemoryBuckets(clock)

    def check_address(self, address: str) -> None:
        """Raises ``TooManyFailures`` while ``address`` has no failure left to spend."""
        decision = self._buckets.peek(Budget.ADDRESS, address)
        if not decision.allowed:
            raise TooManyFailures(Scope.ADDRESS, decision.retry_after)

    def failed(self, address: str) -> None:
        """Spends one of ``address``'s failures (an API key or session that was wrong)."""
        self._buckets.spend(Budget.ADDRESS, address)

    async def begin_password(self, address: str, account: str) -> PasswordAttempt:
        """Charges a password attempt before it is verified, or raises ``TooManyFailures``.

        Charging first means concurrent guesses cannot all slip in while the first ones are
        still being hashed; ``succeeded`` refunds the charge.
        """
        buckets = self._buckets
        by_address = await buckets.take(Budget.ADDRESS, address)
        if not by_address.allowed:
            raise TooManyFailures(Scope.ADDRESS, by_address.retry_after)
        pair = f"{account}\n{address}"
        refunds: list[Callable[[], Awaitable[None]]] = [
            lambda: buckets.give_back(Budget.ADDRESS, address)
        ]
        by_pair = await buckets.take(Budget.ACCOUNT_ADDRESS, pair)
        if by_pair.allowed:
            refunds.append(lambda: buckets.give_back(Budget.ACCOUNT_ADDRESS, pair))
        by_account = await buckets.take(Budget.ACCOUNT, account)
        if by_account.allowed:
            refunds.append(lambda: buckets.give_back(Budget.ACCOUNT, account))
        elif not by_pair.allowed:
            # The account is under attack and this address has already failed for it.
            await buckets.give_back(Budget.ADDRESS, address)
            raise TooManyFailures(Scope.ACCOUNT, by_pair.retry_after)
        return PasswordAttempt(refunds)
