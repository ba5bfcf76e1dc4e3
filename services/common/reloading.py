"""A client channel that follows its component's certificate when it is renewed on disk.

grpc fixes a channel's credentials when the channel opens, so a service would go on
presenting the certificate it started with; after ``pki.RENEW_BEFORE`` (30 days) that one
expires, and a pod that ran so long would lose its calls to the others. Instead each
channel looks at the certificate directory at most once a ``CHECK_SECONDS``; when the
files changed (and the key matches the certificate), it opens a new channel with them,
and every later call goes there. The old channel is closed with the others when the
service stops, so calls in flight on it finish. The stubs built over it never notice:
they hold method objects that pick the current channel at each call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from services.common import tls

log = logging.getLogger(__name__)

# Once a minute: a renewal has 30 days of the old certificate to spare.
CHECK_SECONDS = 60.0

Opener = Callable[[grpc.ChannelCredentials], grpc.aio.Channel]


class ReloadingChannel:
    """A ``grpc.aio.Channel`` for stubs, reopened with a renewed certificate."""

    def __init__(
        self,
        open_channel: Opener,
        directory: Path,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_channel
        self._directory = directory
        self._clock = clock
        self._seen = tls.signature(directory)
        self._channel = open_channel(tls.channel_credentials(directory))
        self._retired: list[grpc.aio.Channel] = []
        self._checked = clock()

    def current(self) -> grpc.aio.Channel:
        """The channel to call on now (reopened first if the certificate was renewed)."""
        now = self._clock()
        if now - self._checked >= CHECK_SECONDS:
            self._checked = now
            self._reopen_if_renewed()
        return self._channel

    def _reopen_if_renewed(self) -> None:
        try:
            seen = tls.signature(self._directory)
            if seen == self._seen:
                return
            credentials = tls.channel_credentials(self._directory)
        except (OSError, ValueError, tls.TlsFilesMissing) as error:
            # Mid-rotation: keep the channel that works and look again later.
            log.warning("client certificate reload deferred: %s", error)
            return
        self._seen = seen
        self._retired.append(self._channel)
        self._channel = self._open(credentials)
        log.info("calling with a renewed certificate from %s", self._directory)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Method(self, "unary_unary", method, args, kwargs)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Method(self, "unary_stream", method, args, kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Method(self, "stream_unary", method, args, kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Method(self, "stream_stream", method, args, kwargs)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def channel_ready(self) -> None:
        await self.current().channel_ready()

    async def close(self, grace: float | None = None) -> None:
        for channel in (*self._retired, self._channel):
            await channel.close(grace)
        self._retired.clear()


class _Method:
    """A stub's method object that calls on the channel that is current at each call."""

    def __init__(
        self,
        owner: ReloadingChannel,
        kind: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self._owner = owner
        self._kind, self._method, self._args, self._kwargs = kind, method, args, kwargs
        self._channel: grpc.aio.Channel | None = None
        self._bound: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        channel = self._owner.current()
        if channel is not self._channel:
            make = getattr(channel, self._kind)
            self._bound = make(self._method, *self._args, **self._kwargs)
            self._channel = channel
        return self._bound(*args, **kwargs)
