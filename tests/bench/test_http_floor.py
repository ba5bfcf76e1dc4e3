"""F2h's trivial HTTP/1.1 handler (bench/http_floor.py) on a real socket, and the report's
price of the gRPC hop from F2 and F2h."""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop

from bench import report
from bench.floor_envoy import FLOOR_BODY
from bench.http_floor import serve

REQUEST = (
    b"POST /public/shop_db/page_views HTTP/1.1\r\nhost: x\r\n"
    b"content-type: application/json\r\ncontent-length: 13\r\n\r\n"
)
BODY = b'{"page":"/"}\n'


async def _exchange(chunks: list[bytes], answers: int | None) -> bytes:
    """Sends ``chunks`` and reads ``answers`` answers, or (``None``) until the server closes."""
    server = await serve(0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.01)  # each chunk a read of its own
        received = b""
        while answers is None or received.count(b"HTTP/1.1 ") < answers or received[-1:] != b"}":
            data = await asyncio.wait_for(reader.read(65536), 5)
            if not data:
                break
            received += data
        return received
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


# On uvloop, as the floor runs: its transports are not asyncio's classes.
def test_each_request_on_a_kept_connection_gets_the_constant_even_when_split() -> None:
    first, second = REQUEST + BODY[:5], BODY[5:] + REQUEST + BODY
    received = uvloop.run(_exchange([first, second], answers=2))
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert len(answers) == 2
    for answer in answers:
        assert answer.startswith(b"200 OK\r\n")
        assert answer.endswith(b"\r\n\r\n" + FLOOR_BODY.encode())


def test_a_malformed_request_is_answered_400_and_the_connection_closed() -> None:
    received = uvloop.run(_exchange([b"NOT HTTP AT ALL\r\n\r\n"], answers=None))  # to EOF
    assert received.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close" in received


def _row(rate: float, envoy: float, handler: float) -> dict[str, Any]:
    cpu = {"envoy": envoy / 1e6, "handler": handler / 1e6, "loadgen": 30 / 1e6}
    return {"median_req_per_s": rate, "cpu_per_request_s": cpu}


def test_the_report_prices_the_grpc_hop_as_f2_less_f2h_envoy_and_handler() -> None:
    rows = {"F2": _row(3700, envoy=210, handler=260), "F2h": _row(16500, envoy=80, handler=17)}
    (line, _blank) = report.grpc_hop(rows)
    assert "F2 3700 req/s at 470 µs" in line
    assert "F2h 16500 req/s at 97 µs" in line
    assert line.endswith("costs 373 µs of CPU more, flat out.")


def test_the_report_says_nothing_of_the_hop_when_either_floor_is_missing() -> None:
    assert report.grpc_hop({"F2": _row(3700, envoy=210, handler=260)}) == []
