"""What one trivial grpc.aio call costs when calls come one at a time, and flat out.

``python -m bench.grpc_rate_cost [--calls N] [--low-rate R] [--concurrency C] [--repeat K]``

The server is F2's handler (``bench.floor offers``: one constant answer) in a process of its
own; the client is this process, on uvloop as the services are. Each round calls it
``--calls`` times paced at ``--low-rate`` calls a second (the half-rate runs' regime: every
call finds both processes asleep), then ``--calls`` times flat out with ``--concurrency``
calls in flight (the maximum-rate runs' regime: a process wakes once for several calls).
For each it reports, per call, the CPU of the server and of the client, and the context
switches of each server thread by role (the event loop, grpc.aio's completion-queue poller,
gRPC core's event-engine threads) and of the client process.

Why it exists (issue 17): a P request cost more CPU at half of P's maximum rate than at the
maximum (``docs/performance.md``, "Why half rate costs more CPU per request"). Every hop of
P is such a call; this measures the hop alone, without p13n's code, so the difference is
the stack's, not ours.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import uvloop
from p13n.offers.v1 import personalize_service_pb2, personalize_service_pb2_grpc

from bench.openloop import percentile
from bench.procs import ThreadMeter, group_name
from bench.suite import wait_for
from services.common.ports import free_port

# The server's threads by the names /proc gives them. bench.floor runs without the bench
# hook that names Python's threads, so grpc.aio's poller (the one thread it starts) keeps
# the process's own name.
ROLES = {"main": "event loop", "event_engine": "grpc event engine"}


def _role(group: str, pid: int) -> str:
    if group == group_name(Path(f"/proc/{pid}/comm").read_text().strip()):
        return "grpc.aio poller"
    return ROLES.get(group, group)


async def _calls(stub: object, count: int, rate: float | None, concurrency: int) -> list[float]:
    """``count`` calls, paced at ``rate`` a second one at a time, or flat out; latencies."""
    request = personalize_service_pb2.PublicPersonalizeRequest(database="bench", table="page")
    call = stub.PublicPersonalize  # type: ignore[attr-defined]
    latencies: list[float] = []
    started = time.perf_counter()
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            if rate is not None:
                due = started + (count - left - 1) / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = time.perf_counter()
            await call(request, timeout=5)
            latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(worker() for _ in range(1 if rate is not None else concurrency)))
    return latencies


async def _measure(
    port: int, pid: int, count: int, rate: float | None, concurrency: int
) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = personalize_service_pb2_grpc.PersonalizeServiceStub(channel)
        await _calls(stub, 200, None, 1)  # connected and warm
        meter, mine = ThreadMeter({"server": [pid]}), resource.getrusage(resource.RUSAGE_SELF)
        meter.start()
        latencies = sorted(await _calls(stub, count, rate, concurrency))
        threads, now = meter.stop(count)["server"], resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (now.ru_utime + now.ru_stime) - (mine.ru_utime + mine.ru_stime)
    client_switches = (now.ru_nvcsw + now.ru_nivcsw) - (mine.ru_nvcsw + mine.ru_nivcsw)
    return {
        "server_cpu_us": sum(found["cpu_us"] for found in threads.values()),
        "server_switches": {
            _role(group, pid): found["switches"]
            for group, found in threads.items()
            if found["switches"] >= 0.05  # gRPC's timer and lifeguard threads: nearly asleep
        },
        "client_cpu_us": client_cpu / count * 1e6,
        "client_switches": client_switches / count,
        "p50_us": percentile(latencies, 50) * 1e6,
        "p99_us": percentile(latencies, 99) * 1e6,
    }


def _line(name: str, found: dict[str, Any]) -> str:
    switches = ", ".join(f"{role} {n:.1f}" for role, n in found["server_switches"].items())
    total = sum(found["server_switches"].values())
    return (
        f"{name}: server {found['server_cpu_us']:.0f} µs CPU and {total:.1f} context switches "
        f"per call ({switches}); client {found['client_cpu_us']:.0f} µs and "
        f"{found['client_switches']:.1f}; latency p50 {found['p50_us']:.0f} / "
        f"p99 {found['p99_us']:.0f} µs"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--low-rate", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", "offers", f"--port={port}"],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _answers(port), 30, "the trivial server")
        for round_ in range(1, args.repeat + 1):
            paced = uvloop.run(_measure(port, server.pid, args.calls, args.low_rate, 1))
            flat = uvloop.run(_measure(port, server.pid, args.calls, None, args.concurrency))
            print(f"round {round_}")
            print("  " + _line(f"paced at {args.low_rate:g}/s, one at a time", paced))
            print("  " + _line(f"flat out, {args.concurrency} in flight", flat))
            ratio = paced["server_cpu_us"] / flat["server_cpu_us"]
            both = (paced["server_cpu_us"] + paced["client_cpu_us"]) / (
                flat["server_cpu_us"] + flat["client_cpu_us"]
            )
            print(f"  paced over flat out, CPU per call: server {ratio:.2f}, both {both:.2f}")
    finally:
        server.terminate()
        server.wait(10)
    return 0


def _answers(port: int) -> bool:
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=1)
        return True
    except grpc.FutureTimeoutError:
        return False


if __name__ == "__main__":
    sys.exit(main())
