"""Counter arithmetic: exact counts and sums over a sliding window, in bounded memory.

Keeping every event time would let one busy visitor grow without bound, so a windowed
counter keeps partial sums in at most ``BUCKETS`` time buckets. The window is therefore
exact in buckets rather than in seconds, and this is the contract (tests compare it with a
brute-force count over raw event times):

- ``width = window_seconds / BUCKETS`` (a whole number of seconds: windows are whole hours);
- ``bucket(t) = int(t // width)``, buckets being aligned to the Unix epoch;
- read or written at clock ``c``, an event applied at server time ``t`` counts iff
  ``bucket(t) > bucket(c) - BUCKETS``. The clock is never earlier than a write (see
  ``attributes``), so ``bucket(t) <= bucket(c)`` always holds.

So an event counts for at least ``window - width`` and at most ``window`` seconds: a
``7d`` counter never counts anything older than 7 days, and forgets in steps of 2.8 hours.
A ``total`` counter has one bucket (index 0) that never expires.

Sums are exact: a number is taken as the decimal it prints as (``19.99``, not the nearest
binary double) and added in unbounded-precision ``Decimal``. Binary floats would make the
result depend on the order of additions, and so on the order in which profiles merge.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, localcontext
from typing import Any

BUCKETS = 60
TOTAL = "total"
MIN_WINDOW_SECONDS = 3600
MAX_WINDOW_SECONDS = 60 * 86400

_WINDOW = re.compile(r"([1-9][0-9]{0,3})([hd])")
_UNIT_SECONDS = {"h": 3600, "d": 86400}
# Addition in this context is exact; trapping Inexact turns a broken promise into an error.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact])

Buckets = Mapping[int, Decimal]


@dataclass(frozen=True)
class CounterState:
    """A counter's partial sums by bucket, with the configuration that gave them meaning."""

    window: str
    sum_field: str | None
    buckets: Buckets

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "counter",
            "window": self.window,
            "sum_field": self.sum_field,
            "buckets": [[index, str(amount)] for index, amount in sorted(self.buckets.items())],
        }

    @classmethod
    def from_json(cls, data: Any) -> CounterState:
        buckets = {int(index): Decimal(amount) for index, amount in data["buckets"]}
        if not all(amount.is_finite() for amount in buckets.values()):
            raise ValueError(f"counter amounts must be finite: {data['buckets']!r}")
        return cls(str(data["window"]), data["sum_field"], buckets)


def parse_window(window: str) -> int | None:
    """Return the window in seconds, or None for ``total``.

    Raises ValueError unless the window is ``total`` or whole hours or days from 1h to 60d.
    """
    if window == TOTAL:
        return None
    match = _WINDOW.fullmatch(window)
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]] if match else 0
    if not MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS:
        raise ValueError(
            f"Window must be 'total' or from 1h to 60d in whole hours or days,"
            f" such as '12h' or '7d' (got {window!r})"
        )
    return seconds


def bucket_of(t: float, window_seconds: int | None) -> int:
    """The index of the bucket an event applied at time ``t`` is counted in."""
    if window_seconds is None:
        return 0
    return int(t // (window_seconds // BUCKETS))


def merge(
    all_buckets: Iterable[Buckets], window_seconds: int | None, clock: float
) -> dict[int, Decimal]:
    """Sum bucket by bucket, keeping only the buckets still in the window at ``clock``."""
    summed: dict[int, Decimal] = {}
    with localcontext(_EXACT):
        for buckets in all_buckets:
            for index, amount in buckets.items():
                summed[index] = summed.get(index, Decimal(0)) + amount
    return _live(summed, window_seconds, clock)


def value(buckets: Buckets, window_seconds: int | None, clock: float) -> int | float:
    """The counter's value at ``clock``: an int when the exact sum is integral."""
    with localcontext(_EXACT):
        return _to_number(sum(_live(buckets, window_seconds, clock).values(), Decimal(0)))


def _to_number(amount: Decimal) -> int | float:
    """JSON number for an exact sum: ``28700``, never ``28700.0``."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def amount_of(raw: object) -> Decimal | None:
    """What a ``sum_field`` value adds: a finite JSON number (not a boolean), else None."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if isinstance(raw, float):
        # repr is the shortest text that reads back as this float: the number as written.
        return Decimal(repr(raw)) if math.isfinite(raw) else None
    return Decimal(raw)


def _live(buckets: Buckets, window_seconds: int | None, clock: float) -> dict[int, Decimal]:
    if window_seconds is None:
        return dict(buckets)
    oldest = bucket_of(clock, window_seconds) - BUCKETS + 1
    return {index: amount for index, amount in buckets.items() if index >= oldest}
