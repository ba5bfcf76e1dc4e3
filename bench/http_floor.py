"""F2h's handler: the cheapest HTTP/1.1 server Python runs, answering F2's constant.

F2 prices a browser request carried as gRPC: Envoy transcodes it and a trivial grpc.aio
handler answers. F2h is the same request carried as HTTP/1.1 to a trivial handler on the
same event loop (uvloop), parsed by httptools (uvicorn's parser): the difference between
the two rows is what the gRPC hop itself costs, Envoy's side and Python's.

``python -m bench.http_floor --port N``; ``bench/floor_envoy.py`` puts it behind Envoy.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import cast

import httptools
import uvloop
from typing_extensions import override

from bench.floor_envoy import FLOOR_BODY


def _response(status: bytes, body: bytes, *, close: bool = False) -> bytes:
    head = [
        b"HTTP/1.1 " + status,
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
    ]
    if close:
        head.append(b"connection: close")
    return b"\r\n".join(head) + b"\r\n\r\n" + body


ANSWER = _response(b"200 OK", FLOOR_BODY.encode())
BAD_REQUEST = _response(b"400 Bad Request", b'{"message":"malformed HTTP/1.1"}', close=True)


class FloorProtocol(asyncio.Protocol):
    """One connection: every complete request is answered with the constant, in order."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)

    @override
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have a Transport's methods without being its subclass.
        self._transport = cast(asyncio.Transport, transport)

    @override
    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._transport.write(BAD_REQUEST)
            self._transport.close()

    # httptools calls this when a request's headers and body have all arrived.
    def on_message_complete(self) -> None:
        assert self._transport is not None
        self._transport.write(ANSWER)
        if not self._parser.should_keep_alive():
            self._transport.close()


async def serve(port: int, host: str = "127.0.0.1") -> asyncio.Server:
    return await asyncio.get_running_loop().create_server(FloorProtocol, host, port)


async def _main(port: int) -> None:
    server = await serve(port)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(_main(parser.parse_args().port))


if __name__ == "__main__":
    main()
