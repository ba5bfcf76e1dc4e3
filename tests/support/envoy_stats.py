"""Envoy's own counters, read from its admin listener."""

from __future__ import annotations

import urllib.request

from gateway.public_path import CLUSTER as BROWSER_PATH_CLUSTER
from support.suite import Suite


def counter(suite: Suite, name: str) -> int:
    """The value of Envoy's counter ``name`` (0 before it first counts)."""
    url = f"http://127.0.0.1:{suite.settings.envoy_admin_port}/stats?filter=^{name}$"
    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read().decode()
    return sum(int(line.split(": ")[1]) for line in text.splitlines() if line.startswith(name))


def handed_to_the_process(suite: Suite) -> int:
    """Requests the gateway handed to the single process's browser socket so far (in the
    per-service mode there is no such socket: 0)."""
    return counter(suite, f"cluster.{BROWSER_PATH_CLUSTER}.upstream_rq_total")
