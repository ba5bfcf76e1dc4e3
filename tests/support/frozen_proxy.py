"""A TCP proxy whose existing connections can be frozen, as a failover or a forgetful NAT
leaves them: bytes sent on them are never answered and no reset arrives, while new
connections work. (A frozen peer's kernel still acknowledges, so this is what keepalives
cannot see and only timeouts bound.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit


@contextlib.asynccontextmanager
async def frozen_proxy(url: str) -> AsyncIterator[tuple[FrozenProxy, str]]:
    """A proxy to the server of ``url``, and ``url`` through it."""
    parts = urlsplit(url)
    proxy = FrozenProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    netloc = parts.netloc.rpartition("@")
    user = netloc[0] + "@" if netloc[0] else ""
    try:
        yield proxy, parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}").geturl()
    finally:
        await proxy.close()


class FrozenProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; ``freeze()`` silences the connections
    open at that moment for good, ``close()`` ends everything."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._connections: list[_Connection] = []
        self._tasks: set[asyncio.Task[object]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> int:
        """Freezes the open connections; how many there were."""
        live = [c for c in self._connections if not c.closed]
        for connection in live:
            connection.frozen = True
        return len(live)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in self._connections:
            connection.close()
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        connection = _Connection((reader, writer), upstream)
        self._connections.append(connection)
        task: asyncio.Task[object] | None = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        with contextlib.suppress(asyncio.CancelledError):
            await connection.run()


class _Connection:
    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self._client = client
        self._server = server
        self.frozen = False
        self.closed = False

    async def run(self) -> None:
        try:
            await asyncio.gather(
                self._pipe(self._client[0], self._server[1]),
                self._pipe(self._server[0], self._client[1]),
            )
        finally:
            self.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if self.frozen:
                    # Swallowed: the sender sees its bytes accepted and never answered.
                    await asyncio.Event().wait()
                sink.write(data)
                await sink.drain()
        if not self.frozen:  # a frozen connection never tells either side it ended
            self.close()

    def close(self) -> None:
        self.closed = True
        for _, writer in (self._client, self._server):
            writer.close()
