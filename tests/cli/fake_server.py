"""A stand-in for whatever answers at a URL the CLI was pointed to: a foreign web page, a
port that does not speak HTTP, a reply cut short, an admin API answering odd bodies.

Only for the CLI's unit tests of its refusals (the real suite cannot be made to misbehave
this way); each path answers as ``routes`` says, and every request is recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What a route answers: (status, JSON-able body) or raw bytes written as they are (then the
# connection is closed: not HTTP, or an HTTP reply cut short).
Answer = tuple[int, Any] | bytes


@dataclass
class Seen:
    method: str
    path: str
    authorization: str


@dataclass
class FakeServer:
    routes: Mapping[str, Answer]
    default: Answer = (404, {"message": "no such route"})
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def answer(self, method: str, path: str) -> Answer:
        bare = path.split("?", 1)[0]
        return self.routes.get(f"{method} {bare}", self.routes.get(bare, self.default))


@contextmanager
def serving(
    routes: Mapping[str, Answer],
    default: Answer = (404, {"message": "no such route"}),
    headers: dict[str, str] | None = None,
) -> Iterator[FakeServer]:
    fake = FakeServer(routes, default, headers or {})

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            fake.seen.append(Seen(self.command, self.path, self.headers.get("authorization", "")))
            answer = fake.answer(self.command, self.path)
            if isinstance(answer, bytes):
                self.wfile.write(answer)
                self.close_connection = True
                return
            status, body = answer
            raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in fake.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = do_DELETE = do_OPTIONS = _any

        def log_message(self, format: str, *args: Any) -> None:  # quiet tests
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
