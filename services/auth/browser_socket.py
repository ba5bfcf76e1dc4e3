"""The single-process mode's door for browser events: HTTP/1.1 from the gateway, on a Unix
socket.

In the single-process mode the gateway hands a browser's event to this process as the
browser sent it (``gateway/public_path.py``), and ``services.auth.public_path`` decides and
answers it. It is carried as plain HTTP/1.1, not transcoded to a gRPC call: measured on the
whole path, a gRPC hop into grpc.aio cost about 800 µs of this process's CPU and 220 of
Envoy's per event flat out (``docs/decisions.md``, "The browser path over HTTP on a Unix
socket"). httptools (uvicorn's parser) reads the requests on the event loop, with no
thread between the socket and the decision.

A Unix socket, not a port: only the gateway on this machine calls it. The socket lies in
the data directory (owner-only, as the keys and certificates beside it) with mode 0600,
so only a process of the same user, which could read the internal key anyway, can connect;
nothing on the network can. The gateway's headers are therefore believed here, the
client's address among them (the gateway drops any a client sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol, cast

import httptools

from services.auth.public_path import Answer, BrowserRequest
from services.common.config import ConfigError

log = logging.getLogger(__name__)

# What one request may bring: the gateway admits a body of at most 64 KiB here, and its
# headers are bounded by Envoy's limit (60 KiB); anything larger is not the gateway's.
MAX_REQUEST_BYTES = 256 * 1024
# AF_UNIX paths are at most 107 bytes on Linux (sun_path, less its terminating NUL).
MAX_PATH_BYTES = 107

_BAD_REQUEST = Answer(400, b'{"code":3,"message":"Malformed HTTP/1.1 request","details":[]}')
_NOT_POST = Answer(405, b'{"code":12,"message":"Only POST is served here","details":[]}')
_INTERNAL = Answer(500, b'{"code":13,"message":"Internal error; it has been logged","details":[]}')


class Answering(Protocol):
    """What answers each request (``public_path.BrowserPath``; a stand-in in the tests)."""

    async def answer(self, request: BrowserRequest) -> Answer: ...


_KNOWN = frozenset(status.value for status in http.HTTPStatus)
_SPLITTING = frozenset("\r\n\0")


def encode(answer: Answer, *, close: bool = False) -> bytes:
    """``answer`` as an HTTP/1.1 response; a header that could split the response (CR, LF)
    or that HTTP/1.1 cannot carry (beyond Latin-1) is dropped, never written."""
    phrase = http.HTTPStatus(answer.status).phrase if answer.status in _KNOWN else ""
    lines = [f"HTTP/1.1 {answer.status} {phrase}", f"content-length: {len(answer.body)}"]
    headers = ({"content-type": "application/json"} if answer.body else {}) | answer.headers
    for name, value in headers.items():
        if _writable(name + value):
            lines.append(f"{name}: {value}")
        else:
            log.warning("a header of the browser path's answer was dropped: %r", name)
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body


def _writable(text: str) -> bool:
    # Latin-1 is what HTTP/1.1 carries; an ASCII header (nearly every one) is checked at once.
    return _SPLITTING.isdisjoint(text) and (text.isascii() or all(ord(c) < 256 for c in text))


class _Connection(asyncio.Protocol):
    """One connection from the gateway: its requests answered one at a time, in order."""

    def __init__(self, browser: Answering, open_connections: set[_Connection]) -> None:
        self._browser = browser
        self._open = open_connections
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._received = 0  # bytes of the request being read
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        # Requests read and not yet answered, each with whether the connection stays open
        # after it; an Answer stands for a request refused at the door.
        self._waiting: list[tuple[BrowserRequest | Answer, bool]] = []
        self._answering: asyncio.Task[None] | None = None
        self._broken = False  # refused as malformed: nothing more is read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have a Transport's methods without being its subclass.
        self._transport = cast(asyncio.Transport, transport)
        self._open.add(self)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 (asyncio's)
        self._open.discard(self)
        if self._answering is not None:
            self._answering.cancel()

    def data_received(self, data: bytes) -> None:
        if self._broken:
            return
        self._received += len(data)
        try:
            if self._received > MAX_REQUEST_BYTES:
                raise httptools.HttpParserError("request too large")
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            # Answered after the requests before it, and the connection then closed.
            self._broken = True
            self._enqueue(_BAD_REQUEST, keep_alive=False)

    def abort(self) -> None:
        """Cuts the connection and any request on it (the service stops)."""
        if self._transport is not None:
            self._transport.abort()

    # httptools' callbacks, in the order a request arrives.
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        # Repeated headers are joined, as Envoy joins them for ext_authz.
        self._headers[key] = f"{self._headers[key]},{text}" if key in self._headers else text

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        request: BrowserRequest | Answer = _NOT_POST
        if self._parser.get_method() == b"POST":
            path = self._url.decode("latin-1")
            request = BrowserRequest(path, self._headers, b"".join(self._body))
        self._url, self._headers, self._body, self._received = b"", {}, [], 0
        self._enqueue(request, keep_alive=self._parser.should_keep_alive())

    def _enqueue(self, request: BrowserRequest | Answer, *, keep_alive: bool) -> None:
        self._waiting.append((request, keep_alive))
        if self._answering is None:
            self._answering = asyncio.get_running_loop().create_task(self._answer_all())

    async def _answer_all(self) -> None:
        while self._waiting:
            request, keep_alive = self._waiting.pop(0)
            answer = request if isinstance(request, Answer) else await self._answer(request)
            self._write(encode(answer, close=not keep_alive))
            if not keep_alive:
                self._close()
                return
        self._answering = None

    async def _answer(self, request: BrowserRequest) -> Answer:
        try:
            return await self._browser.answer(request)
        except Exception:
            log.exception("unexpected error on the browser path")
            return _INTERNAL

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


@contextlib.asynccontextmanager
async def serving(path: Path, browser: Answering) -> AsyncIterator[None]:
    """Takes browser events on the Unix socket at ``path`` for the block; on leaving, the
    socket is removed and every connection cut, as a stopping gRPC server cuts its calls."""
    _claim(path)
    connections: set[_Connection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_unix_server(lambda: _Connection(browser, connections), str(path))
    try:
        # The directory is the owner's alone already; the socket too, whatever the umask.
        os.chmod(path, 0o600)
        yield
    finally:
        server.close()
        for connection in list(connections):
            connection.abort()
        await server.wait_closed()
        _release(path)


def _claim(path: Path) -> None:
    """Makes way for the socket: a clear error if its path cannot be one, and a socket left
    by a process that was killed removed."""
    if len(os.fsencode(path)) > MAX_PATH_BYTES:
        raise ConfigError(
            f"The data directory's path is too long for the browser path's socket ({path}: "
            f"at most {MAX_PATH_BYTES} bytes); set P13N_DATA_DIR to a shorter path"
        )
    _release(path)


def _release(path: Path) -> None:
    path.unlink(missing_ok=True)
