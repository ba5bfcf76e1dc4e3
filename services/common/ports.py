"""Free loopback ports for running a whole suite beside others (the tests, the benchmark).

``P13N_TEST_PORTS=LOW-HIGH`` (e.g. ``20000-29999``) confines them to a range, to keep them
off ports other software on the machine uses; by default they come from 10000 up to the
start of the kernel's ephemeral range.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping
from pathlib import Path

from services.common.config import ConfigError
from services.common.replicas import replica_ports

RANGE_VARIABLE = "P13N_TEST_PORTS"
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_DEFAULT_LOW = 10000
# How many ports one call tries before it gives up on the range.
_ATTEMPTS = 1000
# Every port this process handed out: a port is only bound when its service starts, so
# without this two calls for one suite could return the same one (with six ports drawn
# from ~22,000, once in ~1,500 suites: a profile and an offers service on one port).
_HANDED_OUT: set[int] = set()


def port_range(env: Mapping[str, str] = os.environ) -> range:
    """The ports ``free_port`` picks from: ``P13N_TEST_PORTS`` or the default.

    The default stays below the kernel's ephemeral range: port 0 would hand out a port the
    kernel also gives outgoing connections, so between choosing it and the service binding
    it, any client's connection may take it. Below that range only listeners compete. A
    range set by hand is taken as given (inside the ephemeral range that race comes back).
    """
    raw = env.get(RANGE_VARIABLE)
    if raw is None or raw == "":
        return range(_DEFAULT_LOW, _ephemeral_start())
    low, sep, high = raw.strip().partition("-")
    if not (sep and low.isdigit() and high.isdigit()):
        raise ConfigError(
            f"{RANGE_VARIABLE}={raw!r} is not a port range: use LOW-HIGH, e.g. 20000-29999"
        )
    first, last = int(low), int(high)
    if not 1024 <= first <= last <= 65535:
        raise ConfigError(
            f"{RANGE_VARIABLE}={raw!r} must be LOW-HIGH with 1024 <= LOW <= HIGH <= 65535 "
            "(ports below 1024 need root), e.g. 20000-29999"
        )
    return range(first, last + 1)


def _ephemeral_start() -> int:
    if not _EPHEMERAL.exists():
        return 32768
    return int(_EPHEMERAL.read_text().split()[0])


def free_port(replicas: int = 1) -> int:
    """A loopback port nothing listens on and this process has not handed out before.

    With ``replicas`` above 1, the ports replicas 2..N of a service would take under
    ``p13n up --replicas N`` (``services.common.replicas``: each ``REPLICA_PORT_STEP`` above
    the previous) are free and handed out too. A suite given only its first ports found
    its second replica's port held by another suite's gateway now and then: the replica
    could not listen and its peers' TLS handshakes reached a plain HTTP listener.
    """
    ports = port_range()
    # Distinct candidates: a small range is tried port by port, a large one by a sample.
    for base in random.sample(ports, min(len(ports), _ATTEMPTS)):
        wanted = replica_ports(base, replicas)
        if all(port in ports and port not in _HANDED_OUT and _bindable(port) for port in wanted):
            _HANDED_OUT.update(wanted)
            return base
    if os.environ.get(RANGE_VARIABLE):
        where = f"{RANGE_VARIABLE}={os.environ[RANGE_VARIABLE]}"
    else:
        where = f"{ports.start}-{ports.stop - 1}, below the ephemeral range"
    raise OSError(f"no free port in {where}: widen the range or stop what holds its ports")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
