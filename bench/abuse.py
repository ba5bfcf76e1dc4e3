"""Abusive clients against the gateway, and a normal client measured beside them (issue 13).

Used by the test (tests/e2e/test_capacity.py, small) and the bench (bench/capacity.py,
full). Idle connections are held by a child process per source address (``python -m
bench.abuse hold``), so that tens of thousands of sockets never count against the
caller's own descriptor limit; the stream flood is h2load (Debian's nghttp2-client), which
connects from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Where ``python -m bench.abuse`` finds its package, whatever the caller's directory.
_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Probe:
    """What a normal client saw: one latency (s) and status per request (0: no answer)."""

    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def success(self, ok: frozenset[int] = frozenset({200})) -> float:
        return sum(status in ok for status in self.statuses) / max(len(self.statuses), 1)

    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "requests": len(self.statuses),
            "success": round(self.success(), 4),
            "p50_ms": round(sorted(self.latencies)[len(self.latencies) // 2] * 1000, 1)
            if self.latencies
            else 0.0,
            "p95_ms": round(self.p95() * 1000, 1),
        }


@dataclass(frozen=True)
class Call:
    """One request the normal client repeats."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


class KeepAlive:
    """A normal client: one keep-alive connection from ``source``, as a browser or a server
    keeps one. A lost connection is reopened, and the request that found it lost fails."""

    def __init__(self, port: int, source: str) -> None:
        self._port = port
        self._source = source
        self._connection: http.client.HTTPConnection | None = None

    def send(self, call: Call) -> int:
        """One request; its status, or 0 when no answer came."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                "127.0.0.1", self._port, timeout=5, source_address=(self._source, 0)
            )
        try:
            self._connection.request(call.method, call.path, body=call.body, headers=call.headers)
            reply = self._connection.getresponse()
            reply.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0
        return reply.status

    def probe(self, call: Call, *, count: int, interval: float) -> Probe:
        """``count`` requests, ``interval`` s apart, each timed."""
        result = Probe()
        for _ in range(count):
            started = time.perf_counter()
            status = self.send(call)
            result.latencies.append(time.perf_counter() - started)
            result.statuses.append(status)
            time.sleep(interval)
        return result

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@contextlib.contextmanager
def idle_connections(port: int, sources: list[str], per_source: int) -> Iterator[list[int]]:
    """Holds ``per_source`` idle connections from each address while the block runs; yields
    how many each address still held after a second (the rest the gateway closed)."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.abuse", "hold", source, str(port), str(per_source)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=_ROOT,
        )
        for source in sources
    ]
    try:
        held = []
        for child in children:
            assert child.stdout is not None
            held.append(int(child.stdout.readline() or 0))
        yield held
    finally:
        for child in children:
            assert child.stdin is not None
            child.stdin.close()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()


def _hold(source: str, port: int, count: int) -> None:
    """The child of ``idle_connections``: opens, waits a second, prints how many are still
    open, then holds them until its stdin closes."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        try:
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sockets.append(sock)
    time.sleep(1.0)
    open_now = sum(_still_open(sock) for sock in sockets)
    print(open_now, flush=True)
    sys.stdin.read()
    for sock in sockets:
        sock.close()


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


@dataclass(frozen=True)
class FloodResult:
    """h2load's own count of the flood's replies."""

    requests: int
    status_2xx: int
    status_4xx: int
    status_5xx: int
    failed: int

    @classmethod
    def parse(cls, text: str) -> FloodResult:
        done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", text)
        codes = re.search(r"status codes: (\d+) 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx", text)
        failed = re.search(r"requests: .*?(\d+) failed", text)
        if not (done and codes and failed):
            raise RuntimeError(f"h2load's output was not understood:\n{text}")
        return cls(
            requests=int(done.group(1)),
            status_2xx=int(codes.group(1)),
            status_4xx=int(codes.group(2)),
            status_5xx=int(codes.group(3)),
            failed=int(failed.group(1)),
        )


def start_flood(
    port: int, call: Call, body_file: Path, *, connections: int, streams: int, seconds: float
) -> subprocess.Popen[str]:
    """h2load (HTTP/2 prior knowledge) from 127.0.0.1: ``connections`` x ``streams``
    concurrent requests for ``seconds``; read the result with ``flood_result``."""
    body_file.write_bytes(call.body or b"")
    argv = [
        "h2load",
        "-c",
        str(connections),
        "-m",
        str(streams),
        "-D",
        f"{seconds:g}",  # h2load takes "8", not "8.0"
        "-d",
        str(body_file),
    ]
    for name, value in call.headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(f"http://127.0.0.1:{port}{call.path}")
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def flood_result(flood: subprocess.Popen[str], timeout: float) -> FloodResult:
    out, _ = flood.communicate(timeout=timeout)
    return FloodResult.parse(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.abuse")
    commands = parser.add_subparsers(dest="command", required=True)
    hold = commands.add_parser("hold", help="hold idle connections until stdin closes")
    hold.add_argument("source")
    hold.add_argument("port", type=int)
    hold.add_argument("count", type=int)
    args = parser.parse_args()
    _hold(args.source, args.port, args.count)


if __name__ == "__main__":
    main()
