"""What a test can see a service leave open in this process: listening sockets, open data
files, asyncio tasks, grpc channels.

Read from /proc (Linux), so a leak is seen whoever made it: a test takes a ``Snapshot``
before starting a service and asks it afterwards what is new.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's ``st`` column


def fd_targets() -> dict[int, str]:
    """What each of this process's file descriptors points at."""
    targets = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            targets[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed since listed (the listing's own descriptor, for one)
            continue
    return targets


def listening_sockets() -> set[int]:
    """Inodes of the TCP sockets this process holds open in the LISTEN state."""
    ours = {
        int(target[len("socket:[") : -1])
        for target in fd_targets().values()
        if target.startswith("socket:[")
    }
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                if fields[3] == _LISTEN:
                    listening.add(int(fields[9]))
    return ours & listening


def open_files_under(directory: Path) -> list[str]:
    """Files under ``directory`` this process holds open (a database, its WAL, ...)."""
    prefix = str(directory.resolve()) + os.sep
    return sorted(t for t in fd_targets().values() if t.startswith(prefix))


def port_is_free(port: int) -> bool:
    """Whether ``127.0.0.1:port`` can be bound now, i.e. nothing listens on it.

    SO_REUSEADDR lets the probe past connections that linger in TIME_WAIT after the server
    closed them; Linux still refuses it while a socket listens there.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Snapshot:
    """What was open before a service started; ``left_open`` names what is new since."""

    tasks: set[asyncio.Task[Any]]
    sockets: set[int]
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @classmethod
    def take(cls) -> Snapshot:
        return cls(asyncio.all_tasks(), listening_sockets())

    def left_open(self, data_dir: Path) -> dict[str, list[str]]:
        """Everything opened since the snapshot and still open; empty when nothing is."""
        found = {
            "listening sockets": sorted(str(s) for s in listening_sockets() - self.sockets),
            "data files": open_files_under(data_dir),
            "tasks": sorted(repr(t) for t in asyncio.all_tasks() - self.tasks),
            "channels": [
                repr(c) for c in self.channels if c.get_state() != grpc.ChannelConnectivity.SHUTDOWN
            ],
        }
        return {kind: items for kind, items in found.items() if items}


@contextmanager
def recording_channels(monkeypatch: pytest.MonkeyPatch, snapshot: Snapshot) -> Iterator[None]:
    """Adds every grpc.aio channel opened in the block to ``snapshot.channels``."""
    with monkeypatch.context() as patch:
        # Mutual TLS channels are secure ones; insecure ones only with internal TLS off.
        for name in ("insecure_channel", "secure_channel"):
            original = getattr(grpc.aio, name)

            def recorded(*args: Any, _original: Any = original, **kwargs: Any) -> grpc.aio.Channel:
                channel = _original(*args, **kwargs)
                snapshot.channels.append(channel)
                return channel

            patch.setattr(grpc.aio, name, recorded)
        yield
