"""The simulated cluster's network: a bridge, one network namespace per pod, veth pairs.

Every name starts with ``p13nk`` and the run's id, so a run killed before its teardown
leaves things ``reap`` recognizes and removes on the next run. Addresses come from
198.18.0.0/15 only (RFC 2544's benchmarking range, routed nowhere): the node on
198.18.0.1, pods from 198.18.1.0, the Services' cluster IPs from 198.19.0.0, and an
address on the bridge standing for clients outside the cluster (198.19.255.254).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

PREFIX = "p13nk"
NODE_IP = "198.18.0.1"
OUTSIDE_IP = "198.19.255.254"
POD_NETWORK = ipaddress.ip_network("198.18.0.0/15")
STATE_ROOT = Path("/run/p13n-cluster")


def run(*argv: str, stdin: str | None = None) -> str:
    """A command of the plumbing; its stderr in the error if it fails."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def can_make_namespaces() -> str | None:
    """None when this process can make a network namespace (tried), else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    for tool in ("ip", "iptables-restore", "unshare", "nsenter", "setpriv"):
        if shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") is None:
            return f"{tool} is not installed (.ci/run installs iproute2, iptables, util-linux)"
    trial = f"{PREFIX}-probe{os.getpid()}"
    made = subprocess.run(
        ["ip", "netns", "add", trial], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", trial], capture_output=True, check=False)
    return None


def addresses(first: str) -> Iterator[str]:
    start = ipaddress.ip_address(first)
    for offset in range(4096):
        address = start + offset
        assert address in POD_NETWORK, address
        yield str(address)


class Network:
    """The bridge of one run and the namespaces on it."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.bridge = f"{PREFIX}{run_id}"
        self._veths = 0

    def namespace_name(self, pod: str) -> str:
        return f"{PREFIX}-{self.run_id}-{pod}"

    def create_bridge(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{NODE_IP}/15", "dev", self.bridge)
        run("ip", "addr", "add", f"{OUTSIDE_IP}/32", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")

    def add_namespace(self, pod: str, ip: str) -> str:
        """A network namespace for ``pod`` with ``ip`` on eth0, the node its default route."""
        name = self.namespace_name(pod)
        self._veths += 1
        host_end = f"{PREFIX}{self.run_id}v{self._veths}"
        run("ip", "netns", "add", name)
        run("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", name)
        run("ip", "link", "set", host_end, "master", self.bridge, "up")
        inside = ("ip", "netns", "exec", name)
        run(*inside, "ip", "addr", "add", f"{ip}/15", "dev", "eth0")
        run(*inside, "ip", "link", "set", "lo", "up")
        run(*inside, "ip", "link", "set", "eth0", "up")
        run(*inside, "ip", "route", "add", "default", "via", NODE_IP)
        return name

    def delete_namespace(self, name: str) -> None:
        _kill_inside(name)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)

    def set_firewall(self, name: str, rules: str, nat: str) -> None:
        run("ip", "netns", "exec", name, "iptables-restore", stdin=rules + nat)

    def remove(self) -> None:
        for name in namespaces(f"{PREFIX}-{self.run_id}-"):
            self.delete_namespace(name)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)


def namespaces(prefix: str = f"{PREFIX}-") -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in listed.stdout.splitlines() if line.startswith(prefix)]


def _kill_inside(name: str) -> None:
    pids = subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
    )
    for pid in pids.stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def _owner_alive(state: Path) -> bool:
    owner = state / "owner"
    pid = int(owner.read_text()) if owner.exists() else 0
    return bool(pid) and Path(f"/proc/{pid}").exists()


def release_dirs(made: list[Path], run_id: str) -> None:
    """Removes the mount points a run made, except where another live run mounts (at or
    below): removing a directory another mount namespace mounts on would detach it there."""
    in_use: set[str] = set()
    for state in STATE_ROOT.iterdir() if STATE_ROOT.exists() else ():
        used = state / "used-dirs"
        if state.name != run_id and _owner_alive(state) and used.exists():
            in_use.update(used.read_text().splitlines())
    for directory in reversed(made):
        busy = any(u == str(directory) or u.startswith(f"{directory}/") for u in in_use)
        if not busy:
            with contextlib.suppress(OSError):
                directory.rmdir()


def _reap_states() -> set[str]:
    """Removes the state of runs whose owner is gone (after the mount points they made);
    returns the runs still alive."""
    states = list(STATE_ROOT.iterdir()) if STATE_ROOT.exists() else []
    alive = {state.name for state in states if _owner_alive(state)}
    for state in states:
        if state.name in alive:
            continue
        made = state / "made-dirs"
        release_dirs(
            [Path(p) for p in made.read_text().splitlines()] if made.exists() else [], state.name
        )
        subprocess.run(["rm", "-rf", str(state)], check=False)
    return alive


def reap() -> None:
    """Removes what earlier runs left behind when their owner is gone: namespaces (and
    the processes in them), bridges, mount points they made."""
    alive = _reap_states()
    for name in namespaces():
        if name.split("-")[1] not in alive:
            Network(name.split("-")[1]).delete_namespace(name)
    links = subprocess.run(
        ["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True, check=False
    )
    for line in links.stdout.splitlines():
        bridge = line.split(":")[1].strip()
        if bridge.startswith(PREFIX) and bridge.removeprefix(PREFIX) not in alive:
            subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
