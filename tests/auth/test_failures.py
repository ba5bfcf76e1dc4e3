"""Failure budgets of the admin listener: per address, and per account without a lockout."""

from __future__ import annotations

import pytest

from services.auth.failures import (
    ACCOUNT_ADDRESS_FAILURES,
    ACCOUNT_FAILURES,
    ADDRESS_FAILURES,
    FailureBudgets,
    Scope,
    TooManyFailures,
)

ACCOUNT = "email:owner@shop.example"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def budgets(clock: FakeClock) -> FailureBudgets:
    return FailureBudgets(clock=clock)


def _fail_passwords(budgets: FailureBudgets, address: str, account: str, times: int) -> int:
    """Failed attempts made before the first refusal."""
    for made in range(times):
        try:
            budgets.begin_password(address, account)
        except TooManyFailures:
            return made
    return times


def test_the_numbers_are_the_recorded_ones() -> None:
    assert (ADDRESS_FAILURES.burst, ADDRESS_FAILURES.rate * 60) == (20, 10)
    assert (ACCOUNT_FAILURES.burst, ACCOUNT_FAILURES.rate * 60) == (50, 1)
    assert (ACCOUNT_ADDRESS_FAILURES.burst, ACCOUNT_ADDRESS_FAILURES.rate * 300) == (3, 1)


def test_an_address_is_refused_every_check_once_its_failures_are_spent(
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


def test_password_failures_share_the_address_budget(budgets: FailureBudgets) -> None:
    for _ in range(5):
        budgets.failed("192.0.2.1")  # wrong API keys
    made = _fail_passwords(budgets, "192.0.2.1", "email:a@b.example", 100)
    # Per account and address 3 are allowed only once the account's 50 are spent.
    assert made == ADDRESS_FAILURES.burst - 5
    with pytest.raises(TooManyFailures):
        budgets.check_address("192.0.2.1")


def test_a_success_refunds_its_charge(budgets: FailureBudgets) -> None:
    for _ in range(ADDRESS_FAILURES.burst * 3):
        budgets.begin_password("192.0.2.1", ACCOUNT).succeeded()
    budgets.check_address("192.0.2.1")


def test_a_distributed_attack_cannot_lock_the_owner_out(budgets: FailureBudgets) -> None:
    # Three addresses spend the account's 50 (20 + 20 + 10)...
    drained = [_fail_passwords(budgets, f"198.51.100.{n}", ACCOUNT, 20) for n in (1, 2, 3)]
    assert drained == [20, 20, 10]
    # ...after which each further address gets only its own 3 for this account.
    later = [_fail_passwords(budgets, f"198.51.100.{n}", ACCOUNT, 20) for n in range(4, 40)]
    assert set(later) == {ACCOUNT_ADDRESS_FAILURES.burst}
    with pytest.raises(TooManyFailures) as refused:
        budgets.begin_password("198.51.100.4", ACCOUNT)
    assert refused.value.scope is Scope.ACCOUNT
    assert refused.value.retry_after == pytest.approx(300)
    # The owner, from an address that has not failed for the account, still may sign in.
    budgets.begin_password("203.0.113.9", ACCOUNT).succeeded()
    # An attacking address may still sign in to another account (its address budget holds).
    budgets.begin_password("198.51.100.4", "email:someone@else.example").succeeded()


@pytest.mark.parametrize("replicas", [1, 2, 4])
def test_replicas_together_allow_one_processs_budget(clock: FakeClock, replicas: int) -> None:
    """With N replicas (P13N_AUTH_REPLICAS) each keeps 1/N of the budget: a guesser whose
    attempts are spread over all of them gets, in total, what one process would allow."""
    processes = [FailureBudgets(clock=clock, replicas=replicas) for _ in range(replicas)]
    allowed = sum(_fail_passwords(budgets, "192.0.2.1", ACCOUNT, 100) for budgets in processes)
    assert allowed == ADDRESS_FAILURES.burst
    for budgets in processes:
        with pytest.raises(TooManyFailures):
            budgets.check_address("192.0.2.1")
