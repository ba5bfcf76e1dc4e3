"""Free loopback ports for running a whole suite beside others (the tests, the benchmark)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Every port this process handed out: a port is only bound when its service starts, so
# without this two calls for one suite could return the same one (with six ports drawn
# from ~22,000, once in ~1,500 suites: a profile and an offers service on one port).
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, chosen outside the kernel's ephemeral range.

    Port 0 would hand out a port from the range the kernel also gives outgoing
    connections, so between choosing it and the service binding it, any client's
    connection may take it. Below that range only listeners compete.
    """
    low, _ = (int(n) for n in _EPHEMERAL.read_text().split()) if _EPHEMERAL.exists() else (32768, 0)
    for _ in range(1000):
        port = random.randrange(10000, low)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise OSError("no free port below the ephemeral range")
