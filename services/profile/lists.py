"""List arithmetic: newest-first, de-duplicated, capped, expiring values of one aggregation.

A list answers "what did this visitor recently view", so a value that arrives again moves
to the front and restarts its expiry instead of filling the list with repeats.

Every item carries a total order key ``(time, seq, -pos, value as JSON)``: the server time
it was added, the profile's event sequence number (so events stamped with the same time
keep their arrival order), its position in the event's array (so ``[a, b]`` reads
``a`` before ``b``), and the value itself (so items of different profiles that tie on
everything else still order the same way on every run). A list is then a pure function of
the occurrences it has seen: per value keep the newest, drop the expired, sort newest
first, keep ``max_items``. Adding an event is a merge with the event's items, and merging
profiles is the same merge, which is why it is commutative and associative.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import NamedTuple

Scalar = str | int | float | bool

DAY_SECONDS = 86400


class Item(NamedTuple):
    """One value of a list; ``time`` is the server time it was (last) added."""

    time: float
    seq: int
    pos: int
    value: Scalar


def merge(
    lists: Iterable[Iterable[Item]], max_items: int, expire_days: int, clock: float
) -> tuple[Item, ...]:
    """The live list at ``clock`` made of every occurrence in ``lists``.

    An item is live while ``clock < item.time + expire_days * 86400``.
    """
    newest: dict[str, Item] = {}
    for items in lists:
        for item in items:
            identity = _json(item.value)
            kept = newest.get(identity)
            if kept is None or _order(item) > _order(kept):
                newest[identity] = item
    return live(sorted(newest.values(), key=_order, reverse=True), max_items, expire_days, clock)


def live(items: Iterable[Item], max_items: int, expire_days: int, clock: float) -> tuple[Item, ...]:
    """Items of a newest-first list still alive at ``clock``, at most ``max_items`` of them.

    Applied on read too: the clock moves on between writes, and ``max_items`` may have been
    lowered since the list was written.
    """
    ttl = expire_days * DAY_SECONDS
    return tuple(item for item in items if clock < item.time + ttl)[:max_items]


def _order(item: Item) -> tuple[float, int, int, str]:
    return (item.time, item.seq, -item.pos, _json(item.value))


def _json(value: Scalar) -> str:
    # JSON text tells 1 from true and "1", which Python's == and hash would not.
    return json.dumps(value)
