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
minute, and far below a scan: docs/design.md#failure-limits records them. Budgets live in this
process's memory (a restart forgives them). With N auth replicas (``P13N_AUTH_REPLICAS``)
each process keeps 1/N of every budget, so an attacker spreading guesses over all of them
gets no more than one process's budget in total; a person who reaches only one replica gets
1/N of it, which the numbers leave room for (docs/design.md#failure-limits).

The data plane keeps its own, looser rule (``directory.FAILURE_LIMIT``): a token or an ingest
key failing there never blocks the valid credentials sent from the same address, because
shops' visitors and servers share carrier and office addresses with whoever misbehaves.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from services.auth.ratelimit import Limit, RateLimiter

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


class TooManyFailures(Exception):
    """An attempt refused before its credential is looked at."""

    def __init__(self, scope: Scope, retry_after: float) -> None:
        super().__init__(scope, retry_after)
        self.scope = scope
        self.retry_after = retry_after  # seconds until an attempt would be considered again


@dataclass
class PasswordAttempt:
    """A password attempt charged to its budgets; a success gives the charges back."""

    _refunds: list[Callable[[], None]]

    def succeeded(self) -> None:
        for refund in self._refunds:
            refund()
        self._refunds.clear()


class FailureBudgets:
    """Per address, per account, and per account and address, in one process's memory.

    ``replicas`` is how many auth processes share the budgets: this one keeps its share.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, replicas: int = 1) -> None:
        # Separate limiters: a flood of addresses must not evict the accounts' buckets.
        self._addresses = RateLimiter(ADDRESS_FAILURES.shared_by(replicas), clock=clock)
        self._accounts = RateLimiter(ACCOUNT_FAILURES.shared_by(replicas), clock=clock)
        self._pairs = RateLimiter(ACCOUNT_ADDRESS_FAILURES.shared_by(replicas), clock=clock)

    def check_address(self, address: str) -> None:
        """Raises ``TooManyFailures`` while ``address`` has no failure left to spend."""
        decision = self._addresses.peek(address)
        if not decision.allowed:
            raise TooManyFailures(Scope.ADDRESS, decision.retry_after)

    def failed(self, address: str) -> None:
        """Spends one of ``address``'s failures (an API key or session that was wrong)."""
        self._addresses.check(address)

    def begin_password(self, address: str, account: str) -> PasswordAttempt:
        """Charges a password attempt before it is verified, or raises ``TooManyFailures``.

        Charging first means concurrent guesses cannot all slip in while the first ones are
        still being hashed; ``succeeded`` refunds the charge.
        """
        by_address = self._addresses.check(address)
        if not by_address.allowed:
            raise TooManyFailures(Scope.ADDRESS, by_address.retry_after)
        pair = f"{account}\n{address}"
        refunds = [lambda: self._addresses.refund(address)]
        by_pair = self._pairs.check(pair)
        if by_pair.allowed:
            refunds.append(lambda: self._pairs.refund(pair))
        by_account = self._accounts.check(account)
        if by_account.allowed:
            refunds.append(lambda: self._accounts.refund(account))
        elif not by_pair.allowed:
            # The account is under attack and this address has already failed for it.
            self._addresses.refund(address)
            raise TooManyFailures(Scope.ACCOUNT, by_pair.retry_after)
        return PasswordAttempt(refunds)
