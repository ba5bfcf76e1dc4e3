from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auth.ratelimit import DEFAULT_LIMIT, Decision, Limit, RateLimiter

# Times and rates are binary fractions, so float arithmetic is exact here.
SMALL = Limit(rate=4.0, burst=3)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _allowed(limiter: RateLimiter, key: str, times: int, limit: Limit | None = None) -> int:
    return sum(limiter.check(key, limit).allowed for _ in range(times))


def test_default_is_1000_per_second_with_a_burst_of_2000(clock: FakeClock) -> None:
    assert Limit(rate=1000.0, burst=2000) == DEFAULT_LIMIT
    limiter = RateLimiter(clock=clock)
    assert _allowed(limiter, "token", 2001) == 2000
    clock.advance(1 / 512)  # 1.95 tokens: one request, not two
    assert _allowed(limiter, "token", 2) == 1


def test_burst_then_refusal_with_retry_after(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    assert [limiter.check("k").allowed for _ in range(3)] == [True, True, True]
    assert limiter.check("k") == Decision(allowed=False, retry_after=0.25)
    assert limiter.check("k").allowed is False  # a refusal takes nothing more


def test_refill_is_proportional_to_elapsed_time(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    _allowed(limiter, "k", 3)
    clock.advance(0.125)  # half a token
    assert limiter.check("k") == Decision(allowed=False, retry_after=0.125)
    clock.advance(0.125)
    assert limiter.check("k").allowed is True
    assert limiter.check("k").allowed is False
    clock.advance(0.5)  # two tokens
    assert _allowed(limiter, "k", 3) == 2


def test_refill_never_exceeds_the_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    _allowed(limiter, "k", 3)
    clock.advance(3600.0)
    assert _allowed(limiter, "k", 10) == 3


def test_keys_are_isolated(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    assert _allowed(limiter, "a", 10) == 3
    assert _allowed(limiter, "b", 10) == 3
    clock.advance(0.25)
    assert _allowed(limiter, "a", 10) == 1
    assert _allowed(limiter, "b", 10) == 1


def test_a_per_call_limit_overrides_the_default(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    roomy = Limit(rate=4.0, burst=8)
    assert _allowed(limiter, "service-a", 10, roomy) == 8
    assert _allowed(limiter, "service-b", 10) == 3


def test_a_lowered_limit_caps_the_stored_tokens(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rate=4.0, burst=8), clock=clock)
    limiter.check("k")  # 7 left
    clock.advance(0.25)
    assert _allowed(limiter, "k", 10, SMALL) == 3


def test_a_clock_stepping_back_neither_refills_nor_counts_twice(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    _allowed(limiter, "k", 3)
    clock.advance(-10.0)
    assert limiter.check("k").allowed is False
    clock.advance(10.0)  # back where the bucket was emptied: nothing has refilled
    assert limiter.check("k").allowed is False
    clock.advance(0.25)
    assert limiter.check("k").allowed is True


@pytest.mark.parametrize(
    ("rate", "burst"),
    [
        pytest.param(0.0, 1, id="zero-rate"),
        pytest.param(-1.0, 1, id="negative-rate"),
        pytest.param(math.nan, 1, id="nan-rate"),
        pytest.param(math.inf, 1, id="infinite-rate"),
        pytest.param(1.0, 0, id="zero-burst"),
    ],
)
def test_limits_must_allow_something(rate: float, burst: int) -> None:
    with pytest.raises(
        ValueError, match=r"^(rate must be a positive number|burst must be at least 1)"
    ):
        Limit(rate=rate, burst=burst)


def test_max_keys_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_keys must be at least 1"):
        RateLimiter(max_keys=0)


# --- bounded memory --------------------------------------------------------------------


def test_a_full_limiter_drops_the_least_recently_used_key(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.check(key)
    limiter.check("a")  # "b" is now the least recently used
    limiter.check("d")
    assert len(limiter) == 3
    assert "b" not in limiter
    assert {"a", "c", "d"} <= {k for k in "abcd" if k in limiter}


def test_a_dropped_busy_key_starts_again_full(clock: FakeClock) -> None:
    # The documented price of the hard bound: the evicted key is forgiven.
    limiter = RateLimiter(SMALL, clock=clock, max_keys=1)
    _allowed(limiter, "a", 3)
    limiter.check("b")
    assert _allowed(limiter, "a", 10) == 3


def test_idle_keys_are_dropped_once_refilled(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    limiter.check("idle")  # two tokens left: full again after 0.25 s
    clock.advance(0.125)
    limiter.check("new-1")
    assert "idle" in limiter  # not yet refilled: dropping it would forgive it
    clock.advance(0.125)
    limiter.check("new-2")
    assert "idle" not in limiter
    assert len(limiter) == 2


def test_each_insert_drops_at_most_two_idle_keys(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    for i in range(5):
        limiter.check(f"idle-{i}")
    clock.advance(60.0)
    limiter.check("new")
    assert len(limiter) == 5 - 2 + 1
    assert [f"idle-{i}" in limiter for i in range(5)] == [False, False, True, True, True]


def test_checking_an_existing_key_drops_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    limiter.check("a")
    limiter.check("b")
    clock.advance(60.0)
    limiter.check("b")
    assert len(limiter) == 2


OPS = st.lists(
    st.tuples(st.sampled_from("abcdefghij"), st.sampled_from([0.0, 0.0625, 0.25, 2.0])),
    max_size=200,
)


@given(OPS, st.integers(1, 5))
def test_memory_never_exceeds_max_keys(ops: list[tuple[str, float]], max_keys: int) -> None:
    clock = FakeClock()
    limiter = RateLimiter(SMALL, clock=clock, max_keys=max_keys)
    for key, dt in ops:
        clock.advance(dt)
        limiter.check(key)
        assert len(limiter) <= max_keys


@given(st.lists(st.sampled_from([0.0, 0.0625, 0.25, 1.0]), min_size=1, max_size=300))
def test_allowed_requests_never_exceed_burst_plus_refill(steps: list[float]) -> None:
    clock = FakeClock()
    limiter = RateLimiter(SMALL, clock=clock)
    start, allowed = clock.now, 0
    for dt in steps:
        clock.advance(dt)
        allowed += limiter.check("k").allowed
    assert allowed <= SMALL.burst + SMALL.rate * (clock.now - start)
    # ... and the limiter is not stingier than the bucket: with at most one
    # request per refill interval, nothing is ever refused.
    sparse = RateLimiter(SMALL, clock=clock)
    for _ in steps:
        clock.advance(1 / SMALL.rate)
        assert sparse.check("k").allowed


def test_peek_takes_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    assert limiter.peek("k").allowed is True
    assert "k" not in limiter  # an unseen key is not stored by a peek
    _allowed(limiter, "k", 3)
    assert limiter.peek("k") == Decision(allowed=False, retry_after=0.25)
    clock.advance(0.25)
    assert limiter.peek("k").allowed is True
    assert limiter.peek("k").allowed is True  # still there for the check
    assert _allowed(limiter, "k", 2) == 1


def test_refund_gives_back_a_taken_token_up_to_the_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(SMALL, clock=clock)
    _allowed(limiter, "k", 3)
    limiter.refund("k")
    assert _allowed(limiter, "k", 2) == 1
    for _ in range(10):
        limiter.refund("k")
    assert _allowed(limiter, "k", 10) == SMALL.burst
    limiter.refund("unseen")  # nothing to give back
    assert "unseen" not in limiter


@pytest.mark.parametrize("replicas", [1, 2, 3, 7])
@pytest.mark.parametrize("limit", [Limit(5000, 10000), Limit(5, 50), Limit(1 / 300, 3)])
def test_a_limit_shared_by_replicas_allows_no_more_in_total(limit: Limit, replicas: int) -> None:
    share = limit.shared_by(replicas)
    assert share.rate * replicas == pytest.approx(limit.rate)
    assert share.burst >= 1
    # The bursts add up to the limit's, but where it is smaller than the number of replicas.
    assert share.burst * replicas <= max(limit.burst, replicas)
    assert share.burst == max(1, limit.burst // replicas)
