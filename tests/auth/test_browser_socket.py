"""The single-process mode's door for browser events: HTTP/1.1 on a Unix socket.

The decision behind it is ``services.auth.public_path`` (its answers are compared with the
per-service path's through the real Envoy in tests/e2e/test_public_path.py); here a stand-in
answers, and what is tested is the door: requests read however they arrive, answered in
order, refused when malformed or oversized, and the socket the owner's alone.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.auth import browser_socket
from services.auth.public_path import Answer, BrowserRequest
from services.common.config import ConfigError


class Echo:
    """Answers each request with its path and body, after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: list[BrowserRequest] = []

    async def answer(self, request: BrowserRequest) -> Answer:
        self.seen.append(request)
        await asyncio.sleep(self.delay)
        if request.body == b"boom":
            raise RuntimeError("a bug")
        body = request.path.encode() + b" " + request.body
        return Answer(201, body, {"x-seen": request.headers.get("origin", "")})


@pytest.fixture
async def socket(tmp_path: Path) -> AsyncIterator[tuple[Path, Echo]]:
    echo = Echo()
    path = tmp_path / "browser.sock"
    async with browser_socket.serving(path, echo):
        yield path, echo


def _post(path: str, body: bytes, extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nhost: p13n\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readuntil(b"\r\n")
    headers: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode().strip().partition(": ")
        headers[name] = value
    body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


async def test_requests_split_across_reads_and_sent_together_are_answered_in_order(
    socket: tuple[Path, Echo],
) -> None:
    path, echo = socket
    echo.delay = 0.01  # the first is still being answered when the second has arrived
    reader, writer = await asyncio.open_unix_connection(str(path))
    first = _post("/public/db/t1", b'{"a": 1}', "origin: https://shop.example\r\n")
    writer.write(first[:7])
    await writer.drain()
    writer.write(first[7:] + _post("/public/db/t2", b"{}"))
    answers = [await _read_answer(reader) for _ in range(2)]
    writer.close()
    assert [a[2] for a in answers] == [b'/public/db/t1 {"a": 1}', b"/public/db/t2 {}"]
    assert answers[0][0] == 201
    assert answers[0][1]["x-seen"] == "https://shop.example"
    assert answers[0][1]["content-type"] == "application/json"


async def test_repeated_headers_are_joined_as_envoy_joins_them_for_ext_authz(
    socket: tuple[Path, Echo],
) -> None:
    path, echo = socket
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(_post("/public/db/t", b"{}", "Origin: https://a.example\r\norigin: https://b\r\n"))
    await _read_answer(reader)
    writer.close()
    assert echo.seen[0].headers["origin"] == "https://a.example,https://b"


@pytest.mark.parametrize(
    "sent",
    [b"NOT HTTP AT ALL\r\n\r\n", _post("/public/db/t", b"x" * (300 * 1024))],
    ids=["malformed", "too-large"],
)
async def test_what_the_gateway_never_sends_is_refused_and_the_connection_closed(
    socket: tuple[Path, Echo], sent: bytes
) -> None:
    path, echo = socket
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(sent)
    status, headers, _ = await _read_answer(reader)
    assert (status, headers["connection"]) == (400, "close")
    assert await reader.read() == b""  # closed
    writer.close()
    assert echo.seen == []


async def test_a_method_other_than_post_is_405(socket: tuple[Path, Echo]) -> None:
    path, echo = socket
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"GET /public/db/t HTTP/1.1\r\nhost: p13n\r\n\r\n")
    status, _, body = await _read_answer(reader)
    writer.close()
    assert status == 405
    assert b"POST" in body
    assert echo.seen == []


async def test_an_unexpected_error_is_a_logged_500_and_the_connection_goes_on(
    socket: tuple[Path, Echo], caplog: pytest.LogCaptureFixture
) -> None:
    path, _ = socket
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(_post("/public/db/t", b"boom"))
    status, _, body = await _read_answer(reader)
    assert status == 500
    assert b"has been logged" in body
    assert "unexpected error on the browser path" in caplog.text
    writer.write(_post("/public/db/t", b"{}"))
    assert (await _read_answer(reader))[0] == 201
    writer.close()


def test_a_header_that_could_split_the_answer_is_never_written() -> None:
    answer = Answer(200, b"{}", {"x-ok": "1", "x-bad": "a\r\nset-cookie: x=1"})
    written = browser_socket.encode(answer)
    assert b"x-ok: 1\r\n" in written
    assert b"set-cookie" not in written
    assert b"x-bad" not in written


async def test_the_socket_is_the_owners_alone_and_gone_when_the_service_stops(
    tmp_path: Path,
) -> None:
    path = tmp_path / "browser.sock"
    path.write_text("left by a process that was killed")
    async with browser_socket.serving(path, Echo()):
        mode = path.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
    assert not path.exists()


async def test_stopping_cuts_a_request_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "browser.sock"
    async with browser_socket.serving(path, Echo(delay=30)):
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(_post("/public/db/t", b"{}"))
        await writer.drain()
        await asyncio.sleep(0.05)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # cut, never answered
    writer.close()


async def test_a_data_directory_too_long_for_a_socket_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 120) / "browser.sock"
    with pytest.raises(ConfigError, match="P13N_DATA_DIR"):
        async with browser_socket.serving(path, Echo()):
            pass


async def test_a_malformed_request_after_a_good_one_is_refused_after_its_answer(
    socket: tuple[Path, Echo],
) -> None:
    path, echo = socket
    echo.delay = 0.01
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(_post("/public/db/t", b"{}") + b"NOT HTTP\r\n\r\n")
    first, second = await _read_answer(reader), await _read_answer(reader)
    writer.close()
    assert (first[0], second[0]) == (201, 400)
    assert second[1]["connection"] == "close"
