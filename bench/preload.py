"""Preloading profiles through the real Ingest API (``POST /records/{db}/{table}``).

One product view per visitor in batches of 500 (the API's maximum), a few batches in
flight at once, through Envoy with a write-only key: every profile is made by the same
code that serves traffic, durably, so the bench measures the store a customer would have.
Imported attributes (loyalty tier, lifetime value, ...) go through the admin import API.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench import workload
from bench.configure import Configured
from bench.http import call

# Twice the design's bound for a change to reach every auth replica.
KEY_PROPAGATION_SECONDS = 2.0
UNAVAILABLE_TRIES = 3  # an Ingest batch answered 503, at most (see ``ingest_profiles``)
BATCH = 500


class PreloadError(RuntimeError):
    """The Ingest or import API refused a batch."""


@dataclass
class Preloaded:
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _batches(start: int, stop: int) -> Iterator[tuple[int, int]]:
    for first in range(start, stop, BATCH):
        yield first, min(stop, first + BATCH)


def _parallel(
    job: Callable[[tuple[int, int]], None], start: int, stop: int, workers: int
) -> Preloaded:
    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(job, _batches(start, stop)):
            pass
    return Preloaded(stop - start, time.perf_counter() - began)


def ingest_profiles(
    port: int,
    setup: Configured,
    start: int,
    stop: int,
    *,
    list_len: int = 5,
    workers: int = 4,
    events_per_visitor: int = 1,
) -> Preloaded:
    """Visitors ``start`` to ``stop - 1`` each get ``events_per_visitor`` product views."""
    headers = {"authorization": f"TD1 {setup.write_key}"}
    path = f"/records/{workload.DATABASE}/{workload.PRODUCT_TABLE}"

    def job(batch: tuple[int, int]) -> None:
        rng = random.Random(batch[0])
        records: list[dict[str, Any]] = []
        for n in range(*batch):
            records += [workload.product_event(n, rng, list_len) for _ in range(events_per_visitor)]
        for first in range(0, len(records), BATCH):
            body = {"records": records[first : first + BATCH]}
            # The key was made through one auth replica; the others learn of it within the
            # design's 1 s (a notification, else their periodic check), and until then
            # answer 401, storing nothing: an unknown key is tried again for a while.
            deadline = time.monotonic() + KEY_PROPAGATION_SECONDS
            reply = call("POST", port, path, body, headers)
            while reply.status == 401 and time.monotonic() < deadline:
                time.sleep(0.05)
                reply = call("POST", port, path, body, headers)
            # A 503 is "retry shortly", and a client does: on PostgreSQL an Ingest request
            # whose identifier locks another batch held past the statement timeout (a slow
            # minute of a shared machine, 4 batches of 500 in flight) stored nothing.
            for _ in range(UNAVAILABLE_TRIES - 1):
                if reply.status != 503:
                    break
                time.sleep(1.0)
                reply = call("POST", port, path, body, headers)
            if reply.status != 200:
                raise PreloadError(f"ingest -> {reply.status}: {reply.body[:300]!r}")

    done = _parallel(job, start, stop, workers)
    return Preloaded(done.records * events_per_visitor, done.seconds)


def import_attributes(setup: Configured, start: int, stop: int) -> Preloaded:
    """Imported attribute values for visitors ``start`` to ``stop - 1``."""
    path = f"/v1/parent_segments/{setup.parent_segment_id}/imports"
    tiers = ["bronze", "silver", "gold", "platinum"]

    def job(batch: tuple[int, int]) -> None:
        records = [
            {
                "value": workload.client_id(n),
                "attributes": {
                    "loyalty_tier": tiers[n % 4],
                    "lifetime_value": n % 1000 * 10,
                    "preferred_store": f"store-{n % 50:02d}",
                    "churn_score": n % 100 / 100,
                    "segment_label": "frequent" if n % 3 else "new",
                },
            }
            for n in range(*batch)
        ]
        setup.admin.ok("POST", path, {"key": "td_client_id", "records": records})

    return _parallel(job, start, stop, 2)
