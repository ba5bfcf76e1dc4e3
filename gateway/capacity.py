"""How much the gateway admits, and whether the machine can hold it (issue 13).

Envoy refuses connections beyond its limits instead of running out of file descriptors:
a process that cannot ``accept()`` leaves every new client hanging in the kernel's backlog,
the admin listener included. The limits, from the outside in:

- the data plane's downstream connections, all client addresses together, are bounded by
  the overload manager's ``global_downstream_max_connections``; beyond it a connection is
  closed at once;
- the admin API listener and Envoy's own admin ignore that bound and have their own
  (``connection_limit`` filter), so a data-plane flood leaves them served;
- each client address (an IPv6 client: its /64) gets a token bucket of requests on the
  data plane, checked by
  Envoy's local rate limit before ext_authz, so no Python runs for a flood's excess
  (429, JSON, ``Retry-After``);
- each HTTP/2 connection carries at most ``max_streams`` concurrent streams;
- Envoy's heap is bounded (``max_heap_mib``): near it, the streams holding the most
  buffered body are reset.

Envoy 1.40 has no per-address bound on *connections*: one that sends nothing costs no
request token. Idle connections are bounded globally and closed by the idle timeout.

``descriptors_needed`` is what the limits cost in file descriptors; the supervisor raises
Envoy's soft ``RLIMIT_NOFILE`` to the hard limit and refuses to start when it is smaller.
"""

from __future__ import annotations

import math
import resource
from collections.abc import Mapping
from dataclasses import dataclass

# Descriptors Envoy needs beside downstream connections: upstream connections to the three
# services (per worker), ext_authz, its listeners, log and config files, SDS watches.
UPSTREAM_MARGIN = 1024


class CapacityError(Exception):
    """The configured limits do not fit the machine, or a limit is not a number."""


@dataclass(frozen=True)
class Capacity:
    """The gateway's admission limits. Environment: ``P13N_GATEWAY_<FIELD>``."""

    # Open downstream connections on the data plane, all addresses together.
    max_connections: int = 16000
    # Open connections on the admin API listener (outside the data plane's bound).
    admin_connections: int = 1000
    # Requests per second per client address on the data plane, and the burst above it.
    requests_per_second: int = 50
    burst: int = 100
    # How many client addresses have a bucket of their own at once; beyond that, the least
    # recently seen address's bucket is reused (Envoy's max_dynamic_descriptors).
    tracked_addresses: int = 20000
    # Requests beyond their address's rate held (2 to 3 s) before their 429, at most, all
    # together (one fault filter holds them).
    held_requests: int = 10000
    # Concurrent streams per HTTP/2 connection (Envoy's default is 2^31 - 1).
    max_streams: int = 100
    # Envoy's heap, MiB: past 85 % of it, the streams buffering the most are reset
    # (overload manager). p13n up's Envoy uses ~70 MiB idle; 5 MiB bodies need room.
    max_heap_mib: int = 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Capacity:
        """The defaults, overridden by ``P13N_GATEWAY_MAX_CONNECTIONS`` and its siblings."""
        values = {
            name: _positive(env, f"P13N_GATEWAY_{name.upper()}", default)
            for name, default in vars(cls()).items()
        }
        return cls(**values)

    def tokens_per_fill(self) -> int:
        """Tokens added to an address's bucket at each refill.

        Refilled in small steps (Envoy's shortest interval is 50 ms), not once a second: a
        flood's admitted share then reaches the services as a trickle, not as a burst that
        queues everyone's requests behind it each second.
        """
        return math.ceil(self.requests_per_second / 20)

    def fill_interval(self) -> float:
        """Seconds between refills: at least 50 ms, ``requests_per_second`` on average."""
        return self.tokens_per_fill() / self.requests_per_second

    def descriptors_needed(self) -> int:
        """File descriptors Envoy may hold with every limit reached."""
        return self.max_connections + self.admin_connections + UPSTREAM_MARGIN

    def check_fits(self, nofile: int) -> None:
        """Refuses limits that would let Envoy run out of descriptors before refusing."""
        needed = self.descriptors_needed()
        if needed > nofile:
            raise CapacityError(
                f"the gateway's connection limits need {needed} file descriptors "
                f"(P13N_GATEWAY_MAX_CONNECTIONS={self.max_connections} + "
                f"P13N_GATEWAY_ADMIN_CONNECTIONS={self.admin_connections} + "
                f"{UPSTREAM_MARGIN} for upstreams and files) but the limit is {nofile}: "
                f"lower P13N_GATEWAY_MAX_CONNECTIONS to at most "
                f"{max(nofile - self.admin_connections - UPSTREAM_MARGIN, 0)} "
                f"or raise the hard limit (ulimit -Hn)"
            )


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CapacityError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise CapacityError(f"{name}={raw!r} must be at least 1")
    return value


def raise_nofile() -> int:
    """Raises this process's soft descriptor limit to its hard one; returns the new soft.

    Called by the supervisor before it starts anything: every child, Envoy included,
    inherits the raised limit, and the supervisor knows what Envoy will have.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit is left alone: the kernel's nr_open caps it anyway.
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft
