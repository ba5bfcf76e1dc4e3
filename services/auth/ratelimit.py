"""Token-bucket rate limiting keyed by string (a token id, a client address).

Each key has a bucket holding up to ``burst`` tokens that refills at ``rate``
per second; a request takes one token or is refused. Time comes from an
injected monotonic clock, so tests drive it and wall-clock jumps cannot refill
buckets.

Memory is bounded without a sweeper task. Buckets sit in an ``OrderedDict`` in
least-recently-used order. Inserting a key first drops up to two buckets from
the old end that have refilled completely -- lossless, since a new bucket
starts full -- so idle keys drain faster than new ones arrive. If ``max_keys``
is still reached, the least recently used bucket is dropped even though not
full: its key is forgiven part of a burst, which is the price of a hard memory
bound (refusing new keys instead would let a flood of addresses lock everyone
out). Every operation is O(1).

Not thread-safe: it belongs to one asyncio event loop. Use one instance per
kind of key, so that a flood of client addresses cannot evict token buckets.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_LIMIT", "Decision", "Limit", "RateLimiter"]

# Buckets dropped per insertion: more than one, so the idle population shrinks
# while keys keep arriving; a constant, so no request pays for a mass eviction.
_IDLE_EVICTIONS_PER_INSERT: Final = 2


@dataclass(frozen=True, slots=True)
class Limit:
    """A sustained ``rate`` (requests per second) and a ``burst`` (bucket size)."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate must be a positive number, got {self.rate}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")

    def shared_by(self, replicas: int) -> Limit:
        """One process's share when ``replicas`` processes each keep their own buckets.

        Rate and burst are divided, so together they allow no more than this limit (the
        burst rounds down, but never below 1: a burst smaller than the number of replicas
        allows one per replica).
        """
        if replicas <= 1:
            return self
        return Limit(rate=self.rate / replicas, burst=max(1, self.burst // replicas))

    def take(self, tokens: float, updated: float, now: float) -> tuple[bool, float, float]:
        """One take from a bucket that held ``tokens`` at ``updated``, at time ``now``.

        Returns whether a token was there, and the bucket's tokens and time afterwards (for
        buckets kept outside a ``RateLimiter``: the same arithmetic).
        """
        tokens, updated = self.refill(tokens, updated, now)
        if tokens >= 1.0:
            return True, tokens - 1.0, updated
        return False, tokens, updated

    def refill(self, tokens: float, updated: float, now: float) -> tuple[float, float]:
        """The bucket at ``now``: refilled for the time since ``updated`` (never backwards)."""
        if now <= updated:
            return tokens, updated
        return min(float(self.burst), tokens + (now - updated) * self.rate), now

    def full_at(self, tokens: float, updated: float) -> float:
        """When a bucket holding ``tokens`` at ``updated`` is full again."""
        return updated + (self.burst - tokens) / self.rate

    def retry_after(self, tokens: float) -> float:
        """Seconds until a bucket holding ``tokens`` holds one."""
        return max(0.0, (1.0 - tokens) / self.rate)


DEFAULT_LIMIT: Final = Limit(rate=1000.0, burst=2000)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may proceed; if not, how long until one would."""

    allowed: bool
    retry_after: float  # seconds; 0.0 when allowed


_ALLOWED: Final = Decision(allowed=True, retry_after=0.0)


class _Bucket:
    __slots__ = ("full_at", "tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now
        self.full_at = now


class RateLimiter:
    """Per-key token buckets with a default limit that each call may override.

    The override lets one limiter serve services with different configured
    limits; a changed limit applies from the next request on.
    """

    def __init__(
        self,
        default: Limit = DEFAULT_LIMIT,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self._default = default
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets

    def check(self, key: str, limit: Limit | None = None) -> Decision:
        """Take one token from ``key``'s bucket if there is one."""
        limit = limit or self._default
        bucket = self._refilled(key, limit)
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        bucket.full_at = bucket.updated + (limit.burst - bucket.tokens) / limit.rate
        if allowed:
            return _ALLOWED
        return Decision(allowed=False, retry_after=(1.0 - bucket.tokens) / limit.rate)

    def peek(self, key: str, limit: Limit | None = None) -> Decision:
        """What ``check`` would answer, taking nothing (a key never seen has a full bucket)."""
        limit = limit or self._default
        bucket = self._buckets.get(key)
        if bucket is None:
            return _ALLOWED
        now = self._clock()
        tokens = bucket.tokens
        if now > bucket.updated:
            tokens = min(float(limit.burst), tokens + (now - bucket.updated) * limit.rate)
        if tokens >= 1.0:
            return _ALLOWED
        return Decision(allowed=False, retry_after=(1.0 - tokens) / limit.rate)

    def refund(self, key: str, limit: Limit | None = None) -> None:
        """Gives back a token ``check`` took (a charged attempt that turned out fine)."""
        limit = limit or self._default
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(float(limit.burst), bucket.tokens + 1.0)
            bucket.full_at = bucket.updated + (limit.burst - bucket.tokens) / limit.rate

    def _refilled(self, key: str, limit: Limit) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
            return bucket
        self._buckets.move_to_end(key)
        # A clock that steps back refills nothing, and the refill clock is
        # not rewound either, so the same interval is never counted twice.
        if now > bucket.updated:
            refill = (now - bucket.updated) * limit.rate
            bucket.tokens = min(float(limit.burst), bucket.tokens + refill)
            bucket.updated = now
        return bucket

    def _make_room(self, now: float) -> None:
        for _ in range(_IDLE_EVICTIONS_PER_INSERT):
            oldest = next(iter(self._buckets.values()), None)
            if oldest is None or oldest.full_at > now:
                break
            self._buckets.popitem(last=False)
        if len(self._buckets) >= self._max_keys:
            self._buckets.popitem(last=False)
