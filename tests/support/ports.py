"""Free ports for tests, and waiting for a port to open or close."""

from __future__ import annotations

import contextlib
import random
import socket
import time
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A port nothing listens on, chosen outside the kernel's ephemeral range.

    Port 0 would hand out a port from the range the kernel also gives outgoing
    connections, so between choosing it and the service binding it, any client's
    connection may take it. Below that range only listeners compete.
    """
    low, _ = (int(n) for n in _EPHEMERAL.read_text().split()) if _EPHEMERAL.exists() else (32768, 0)
    for _ in range(1000):
        port = random.randrange(10000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free port below the ephemeral range")


def is_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
        return True
    return False


def wait_open(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_open(port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open in {timeout}s")
