"""CPU per request of the offers service's personalize handlers, in process.

    python -m bench.offers_cpu                    # every path, 20,000 requests each
    python -m bench.offers_cpu --path public --count 5000

What one request costs the offers process between gRPC's bytes in and bytes out, with the
bench's configuration (``bench/workload.py``: 20 personalizations of 3 sections, 30
attributes, LISTs of 10 items) already compiled: the request decoded, the servicer's whole
handler (identity check, deadline, Track request built and serialized, Track's answer
parsed and read, the compiled-configuration cache, evaluation, rendering, encoding). The
profile service is a stand-in answering a fixed, full profile; gRPC's own cost (HTTP/2,
the event loop, the interceptor) is not in it. ``time.process_time`` over ``--count``
calls, so another busy process on the machine hardly moves the figure; still, compare
figures taken on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from p13n.auth.v1 import identity_pb2
from p13n.offers.v1 import personalize_service_pb2 as api
from p13n.profile.v1 import internal_service_pb2 as profile_api
from p13n.profile.v1 import realtime_config_pb2 as pb

from bench import workload
from services.common import identity
from services.offers.compiled_cache import CompiledCache
from services.offers.engine import Personalization
from services.offers.personalize_service import PersonalizeServicer
from services.offers.store import Snapshot

PARENT_SEGMENT, ACCOUNT, CONFIG_VERSION = "1", "7", 3
PATHS = ("public", "private-http", "private")
# What Envoy sends along with a transcoded call (the deadline is in a header, not gRPC's).
_GATEWAY_METADATA = (
    ("x-forwarded-proto", "http"),
    ("x-request-id", "0f8e4c1a-6a8e-4f3c-9d7b-2b1e3c4d5e6f"),
    ("x-envoy-expected-rq-timeout-ms", "5000"),
    ("x-p13n-identity", "x" * 160),
    ("user-agent", "wrk"),
    ("origin", workload.ORIGIN),
)


def visitor_values(rng: random.Random) -> dict[str, object]:
    """A returning visitor's attributes as Track answers them: every LIST full."""

    def items(pool: list[str]) -> list[object]:
        return [rng.choice(pool) for _ in range(10)]

    return {
        "last_url": "https://www.shop.example/p/product-042",
        "last_path": "/p/product-042",
        "last_title": "Shop - shoes",
        "last_product": "product-042",
        "last_category": "shoes",
        "last_price": 12300,
        "newsletter_opt_in": True,
        "viewed_products": {
            "name": items(workload.PRODUCTS),
            "category": items(workload.CATEGORIES),
        },
        "related_products": {"item": items(workload.PRODUCTS)},
        "browsed_categories": {"name": items(workload.CATEGORIES)},
        "recent_paths": {"path": [f"/p/{p}" for p in items(workload.PRODUCTS)]},
        "cart_items": {"name": [], "price": []},
        "searches": {"query": []},
        "purchased": {"item": []},
        "category_paths": {"path": ["/category/shoes"] * 3},
        "page_views_1h": 7,
        "page_views_total": 42,
        "product_views_24h": 5,
        "product_views_7d": 19,
        "cart_adds_30d": 0,
        "purchases_total": 0,
        "revenue_60d": 0,
        "loyalty_tier": "gold",
        "lifetime_value": 1234.5,
        "preferred_store": "store-12",
        "churn_score": 0.13,
        "segment_label": "regular",
    }


def track_answer(values: dict[str, object], matched: list[str]) -> bytes:
    """Track's answer as it arrives on the wire."""
    response = profile_api.TrackResponse(
        canonical_id="c",
        matched_events=matched,
        config_version=CONFIG_VERSION,
        attributes_json=json.dumps(values, ensure_ascii=False, separators=(",", ":")),
    )
    return response.SerializeToString()


def realtime_config() -> profile_api.RealtimeConfig:
    attributes = []
    for a in workload.attributes():
        aggregations = a.get("list", {}).get("aggregations", [])
        attributes.append(
            pb.Attribute(
                name=a["name"],
                type=a["type"],
                sensitivity=a.get("sensitivity", "NON_SENSITIVE"),
                list=pb.ListSettings(
                    max_items=10,
                    aggregations=[
                        pb.ListAggregation(name=g["name"], sensitivity=g["sensitivity"])
                        for g in aggregations
                    ],
                ),
            )
        )
    return profile_api.RealtimeConfig(
        version=CONFIG_VERSION,
        parent_segment_id=PARENT_SEGMENT,
        account_id=ACCOUNT,
        events=[pb.EventDefinition(name=e["name"]) for e in workload.EVENTS],
        attributes=attributes,
    )


@dataclass(frozen=True)
class _Record:
    body: dict[str, Any]

    def personalization(self) -> Personalization:
        return Personalization(
            self.body["name"], self.body["trigger_events"], self.body["sections"]
        )


class _Store:
    """The personalization store as the cache reads it: nothing is ever written."""

    def revision(self, _parent_segment_id: str) -> int:
        return 1

    async def snapshot(self, _parent_segment_id: str) -> Snapshot:
        # The cache only calls ``personalization()`` on a record: the stand-in has it.
        records = [_Record(body) for body in workload.personalizations(20)]
        return Snapshot(1, cast(Any, records))


class _Profile:
    """Track's stand-in: serializes the request and parses a fixed answer, as gRPC would."""

    def __init__(self, values: dict[str, object]) -> None:
        self._answers = {
            "page": track_answer(values, ["page_view"]),
            "category": track_answer(values, ["page_view", "category_view"]),
            "product": track_answer(values, ["product_view"]),
        }

    # The servicer passes ``budget=`` by name; a stand-in that answers at once ignores it.
    async def track(self, request: profile_api.TrackRequest, budget: float) -> Any:  # noqa: ARG002
        request.SerializeToString()
        if request.table == workload.PRODUCT_TABLE:
            kind = "product"
        elif request.event.fields["td_path"].string_value.startswith("/category/"):
            kind = "category"
        else:
            kind = "page"
        return profile_api.TrackResponse.FromString(self._answers[kind])


class _Context:
    def time_remaining(self) -> float | None:
        return None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return _GATEWAY_METADATA


async def _fetch(_parent_segment_id: str, _budget: float) -> profile_api.RealtimeConfig:
    return realtime_config()


async def measure(path: str, count: int) -> tuple[float, float]:
    """Seconds of CPU per request, and the mean answer size in bytes."""
    handler, requests = _prepared(path)
    context = _Context()
    await handler(requests[0], context)  # compiles the configuration
    parse = type(requests[0]).FromString
    received = [request.SerializeToString() for request in requests]
    size = 0
    start = time.process_time()
    for i in range(count):
        answer = await handler(parse(received[i % len(received)]), context)
        size += len(answer)
    return (time.process_time() - start) / count, size / count


def _prepared(
    path: str,
) -> tuple[Callable[[Any, Any], Coroutine[Any, Any, bytes]], list[Any]]:
    """The handler of ``path`` with its caller's identity set, and 50 requests for it."""
    rng = random.Random(1)
    cache = CompiledCache(_fetch, cast(Any, _Store()))
    servicer = PersonalizeServicer(cast(Any, _Profile(visitor_values(rng))), cache)
    handlers: dict[str, tuple[Callable[[Any, Any], Coroutine[Any, Any, bytes]], Any]] = {
        "public": (servicer.PublicPersonalize, api.PublicPersonalizeRequest),
        "private-http": (servicer.PrivatePersonalizeHttp, api.PrivatePersonalizeHttpRequest),
        "private": (servicer.PrivatePersonalize, api.PrivatePersonalizeRequest),
    }
    handler, request_type = handlers[path]
    token = identity_pb2.TOKEN_TYPE_PUBLIC if path == "public" else identity_pb2.TOKEN_TYPE_PRIVATE
    identity.current.set(
        identity_pb2.Identity(
            account_id=ACCOUNT, parent_segment_id=PARENT_SEGMENT, token_type=token
        )
    )
    requests = []
    for n in range(50):
        table, event = workload.event(n, rng)
        request = request_type(database=workload.DATABASE, table=table)
        request.event.update(event)
        requests.append(request)
    return handler, requests


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.offers_cpu", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--path", choices=(*PATHS, "all"), default="all")
    args = parser.parse_args()
    for path in PATHS if args.path == "all" else (args.path,):
        seconds, size = asyncio.run(measure(path, args.count))
        print(
            f"{path:>12}: {seconds * 1e6:7.1f} µs of CPU per request "
            f"({args.count} requests, answers of {size:,.0f} bytes on average)"
        )


if __name__ == "__main__":
    main()
