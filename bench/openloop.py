"""An open-loop HTTP/1.1 load generator: requests start on a fixed schedule, not on replies.

wrk waits for a reply before a connection sends again, so when the server stalls it sends
less and the stall is under-counted (coordinated omission). Here request ``i`` is due at
``start + i / rate``; it goes out on an idle keep-alive connection (a new one is opened
while fewer than ``--max-connections`` exist), and its latency runs from when it was due,
so time spent waiting for a connection counts. Bodies are built before the clock starts.

So that a run whose tail misses explains itself, it also reports the latencies second by
second (``timeline``: by when each request was due) and its own lag: how late a request
left because this generator's event loop was late (``schedule_lag_ms``) or because every
connection was busy (``connection_wait_ms``). A tail that the generator made shows there,
not as the server's.

``python -m bench.openloop --port P --rate R --duration S --token T --pool N`` prints one
JSON object: requests, achieved rate, status counts, latency percentiles in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import uvloop

from bench import workload


def _requests(count: int, token: str, pool: int, list_len: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    built = []
    for _ in range(count):
        table, body = workload.event(rng.randrange(pool), rng)
        if table == workload.PRODUCT_TABLE:
            body["product_list"] = [rng.choice(workload.PRODUCTS) for _ in range(list_len)]
        data = json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"POST /public/{workload.DATABASE}/{table} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"WP13n-Token: {token}\r\nOrigin: {workload.ORIGIN}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        built.append(head.encode() + data)
    return built


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _exchange(connection: Connection, request: bytes) -> int:
    reader, writer = connection
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(
    port: int, rate: float, requests: list[bytes], max_connections: int
) -> dict[str, Any]:
    idle: list[Connection] = []
    opened = 0
    freed = asyncio.Condition()
    latencies: list[float] = []
    answered: list[tuple[float, float]] = []  # (due, latency) of every answered request
    schedule_lag: list[float] = []
    connection_wait: list[float] = []
    sent_late: list[tuple[float, float]] = []  # (due, how late it got a connection) of all
    statuses: Counter[str] = Counter()

    async def one(request: bytes, due: float) -> None:
        nonlocal opened
        started = time.perf_counter()
        schedule_lag.append(started - due)
        async with freed:
            while not idle and opened >= max_connections:
                await freed.wait()
            if idle:
                connection = idle.pop()
            else:
                opened += 1
                connection = None
        connection_wait.append(time.perf_counter() - started)
        sent_late.append((due - start, time.perf_counter() - due))
        try:
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            status = await _exchange(connection, request)
            statuses[str(status)] += 1
            latency = time.perf_counter() - due
            latencies.append(latency)
            answered.append((due - start, latency))
            async with freed:
                idle.append(connection)
                freed.notify()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            statuses["error"] += 1
            async with freed:
                opened -= 1
                freed.notify()

    tasks = []
    start = time.perf_counter() + 0.05
    started_at = time.time() + 0.05  # the same instant on the wall clock (bench.procs)
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    latencies.sort()
    return {
        **_summary(rate, len(requests), elapsed, opened, statuses, latencies),
        "started_at": round(started_at, 3),
        "timeline": timeline(answered, sent_late),
        "schedule_lag_ms": _spread(schedule_lag),
        "connection_wait_ms": _spread(connection_wait),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": _ms(percentile(ordered, 50)),
        "p99": _ms(percentile(ordered, 99)),
        "max": _ms(ordered[-1]) if ordered else 0.0,
    }


def timeline(
    answered: list[tuple[float, float]], sent_late: Sequence[tuple[float, float]] = ()
) -> list[dict[str, float]]:
    """Per second of the run (by due time): requests answered, p50, p95, p99 and max ms,
    and the generator's own lag (``generator_lag_max``: the most any request of the second
    left after it was due, its event loop's lateness and its wait for a connection)."""
    seconds: dict[int, list[float]] = {}
    for due, latency in answered:
        seconds.setdefault(int(due), []).append(latency)
    late: dict[int, float] = {}
    for due, lag in sent_late:
        late[int(due)] = max(late.get(int(due), 0.0), lag)
    rows = []
    for second in sorted(seconds):
        ordered = sorted(seconds[second])
        rows.append(
            {
                "second": second,
                "requests": len(ordered),
                **{f"p{p}": _ms(percentile(ordered, p)) for p in (50, 95, 99)},
                "max": _ms(ordered[-1]),
                "generator_lag_max": _ms(late.get(second, 0.0)),
            }
        )
    return rows


def _summary(
    rate: float,
    count: int,
    elapsed: float,
    opened: int,
    statuses: Counter[str],
    latencies: list[float],
) -> dict[str, Any]:
    return {
        "target_rate": rate,
        "requests": count,
        "achieved_rate": round(len(latencies) / elapsed, 1),
        "connections": opened,
        "statuses": dict(statuses),
        "latency_ms": {
            name: round(percentile(latencies, p) * 1000, 3)
            for name, p in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p999", 99.9))
        }
        | {"max": round(latencies[-1] * 1000, 3) if latencies else 0.0},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--list-len", type=int, default=5)
    parser.add_argument("--max-connections", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    requests = _requests(
        max(1, round(args.rate * args.duration)), args.token, args.pool, args.list_len, args.seed
    )
    result = uvloop.run(run(args.port, args.rate, requests, args.max_connections))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
