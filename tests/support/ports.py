"""Free ports for tests, and waiting for a port to open or close."""

from __future__ import annotations

import contextlib
import socket
import time

from services.common.ports import free_port

__all__ = ["free_port", "is_open", "wait_open"]


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
