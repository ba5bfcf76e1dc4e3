"""CPU time and resident memory of processes, read from /proc.

CPU seconds per request come from ``utime + stime`` before and after a load run, so they
count every thread of the process (gRPC's poller threads, Envoy's workers) and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size now."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def peak_rss_bytes(pid: int) -> int:
    """The high-water mark of the resident set (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    # guest time is already counted in user and nice.
    return (sum(fields[:8]) - idle) / _TICKS


def machine_steal_seconds() -> float:
    """CPU seconds the hypervisor gave to others while this machine's cores wanted them
    (``steal`` in /proc/stat; 0 on bare metal): a virtual machine made slower from outside."""
    return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[8]) / _TICKS


def server_cpu_seconds(server: int) -> float:
    """CPU seconds of a server that works in processes it forks (PostgreSQL's postmaster):
    its own, its children's that are alive, and those of the children it has reaped (an
    autovacuum worker that came and went)."""
    fields = _stat_fields(server)
    total = sum(int(x) for x in fields[11:15]) / _TICKS  # utime, stime, cutime, cstime
    for child in _children(server):
        with contextlib.suppress(OSError):  # one that ended meanwhile: counted once reaped
            total += cpu_seconds(child)
    return total


def parent_pid(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def _stat_fields(pid: int) -> list[str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces; fields resume after its closing parenthesis.
    return stat[stat.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if parent_pid(int(entry.name)) == pid:
                    found.append(int(entry.name))
    return found


def children_cpu_seconds() -> float:
    """CPU of this process's waited-for children (the load generator, once it exits)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


Pids = dict[str, list[int]]
"""Processes by role: a role may run as several processes."""
# Roles that are a server forking its workers (``server_cpu_seconds``): PostgreSQL, where a
# suite keeps its data there (its CPU is the suite's, as SQLite's is the profile process's).
SERVER_ROLES = frozenset({"postgres"})


def _reader(role: str) -> Callable[[int], float]:
    return server_cpu_seconds if role in SERVER_ROLES else cpu_seconds


def _total(pids: list[int], role: str) -> float:
    return sum(_reader(role)(pid) for pid in pids)


@dataclass
class CpuMeter:
    """CPU seconds used by each role's processes between ``start()`` and ``stop()``."""

    pids: Pids

    def start(self) -> None:
        self._before = {name: _total(pids, name) for name, pids in self.pids.items()}
        self._children_before = children_cpu_seconds()
        self._machine_before = machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        """Each role's CPU, the load generator's, and ``other``: everything else on the
        machine in the meantime (other work competing for the cores: noise)."""
        machine = machine_busy_seconds() - self._machine_before
        used = {name: _total(pids, name) - self._before[name] for name, pids in self.pids.items()}
        used["loadgen"] = children_cpu_seconds() - self._children_before
        used["other"] = max(0.0, machine - sum(used.values()))
        return used


class CpuTimeline:
    """Each role's CPU second by second while a run lasts (a sampling thread), in cores
    busy: 1.0 is one core all second. ``machine`` is every core's busy time, so a second in
    which something outside the roles took the CPU shows as ``machine`` above their sum;
    ``steal`` is the part of it the hypervisor gave to other machines.
    ``until`` is the wall-clock time a row's second ended (to line it up with latencies)."""

    def __init__(self, pids: Pids, interval: float = 1.0) -> None:
        self._pids = {name: list(found) for name, found in pids.items()}
        self._interval = interval
        self._rows: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="cpu-timeline", daemon=True)

    def add(self, role: str, pid: int) -> None:
        """Also sample ``pid`` (a process started after ``start``, such as the generator)."""
        self._pids.setdefault(role, []).append(pid)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[dict[str, float]]:
        self._stop.set()
        self._thread.join()
        return self._rows

    def _read(self) -> dict[str, float]:
        now = {"machine": machine_busy_seconds(), "steal": machine_steal_seconds()}
        for name, pids in list(self._pids.items()):
            total = 0.0
            for pid in pids:
                with contextlib.suppress(OSError):  # a process that has exited
                    total += _reader(name)(pid)
            now[name] = total
        return now

    def _sample(self) -> None:
        before, second = self._read(), 0
        while not self._stop.wait(self._interval):
            now = self._read()
            row = {"second": float(second), "until": round(time.time(), 3)}
            for name, value in now.items():
                row[name] = round(max(0.0, value - before.get(name, value)) / self._interval, 2)
            self._rows.append(row)
            before, second = now, second + 1


def group_name(name: str) -> str:
    """A thread's name without a trailing number: Envoy's ``wrk:worker_0`` and ``_1`` are
    one group (and a thread left with the process's name ``python3``, ``python``)."""
    return re.sub(r"([_-]?\d+)+$", "", name) or name


def _thread_group(pid: int, tid: int, name: str) -> str:
    """A thread's group: ``main`` for the process's first thread (a service's event loop),
    else ``group_name`` of its name (the bench hook names Python's threads after their
    target, bench/gcpause)."""
    return "main" if tid == pid else group_name(name)


def _thread_cpu_ns(task: Path, stat_fields: list[str]) -> int:
    """A thread's CPU so far in nanoseconds: the scheduler's own count (``schedstat``'s
    first field), where the kernel keeps one; else ``utime + stime``, whose 10 ms ticks
    round a short run's share of a quiet thread to nothing."""
    try:
        return int((task / "schedstat").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return (int(stat_fields[11]) + int(stat_fields[12])) * 1_000_000_000 // _TICKS


def thread_totals(pid: int) -> dict[int, tuple[str, int, int]]:
    """Each thread of ``pid``: its group, CPU nanoseconds and context switches so far."""
    found = {}
    with contextlib.suppress(OSError):  # a process that has exited has no threads to count
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                name = (task / "comm").read_text().strip()
                stat = (task / "stat").read_text()
                status = (task / "status").read_text()
            except OSError:  # the thread ended between listing and reading
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            switches = sum(
                int(line.split()[1])
                for line in status.splitlines()
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))
            )
            tid = int(task.name)
            group = _thread_group(pid, tid, name)
            found[tid] = (group, _thread_cpu_ns(task, fields), switches)
    return found


@dataclass
class ThreadMeter:
    """Each role's CPU and context switches between ``start()`` and ``stop()``, by thread
    group: where a request's CPU goes inside a process (its event loop, gRPC's poller and
    event-engine threads, the database thread...) and how often each thread was woken.
    A context switch is a thread going to sleep or being preempted; each wake-up of a
    sleeping thread is one, so at a low rate they count the hops a request makes. A thread
    that ended before ``stop()`` is not in it (``CpuMeter``'s process totals keep its CPU)."""

    pids: Pids

    def start(self) -> None:
        self._before = {
            pid: thread_totals(pid) for pids in self._threaded().values() for pid in pids
        }

    def _threaded(self) -> Pids:
        """The roles whose work is in threads (a server's is in processes: SERVER_ROLES)."""
        return {role: pids for role, pids in self.pids.items() if role not in SERVER_ROLES}

    def stop(self, requests: int) -> dict[str, dict[str, dict[str, float]]]:
        """Per role, per thread group: ``cpu_us`` and ``switches`` per request."""
        found: dict[str, dict[str, dict[str, float]]] = {}
        for role, pids in self._threaded().items():
            groups: dict[str, list[float]] = {}
            for pid in pids:
                before = self._before.get(pid, {})
                for tid, (group, cpu_ns, switches) in thread_totals(pid).items():
                    _, cpu_ns_then, switches_then = before.get(tid, (group, 0, 0))
                    total = groups.setdefault(group, [0.0, 0.0])
                    total[0] += cpu_ns - cpu_ns_then
                    total[1] += switches - switches_then
            found[role] = {
                group: {
                    "cpu_us": round(cpu_ns / 1000 / max(1, requests), 1),
                    "switches": round(switches / max(1, requests), 2),
                }
                for group, (cpu_ns, switches) in sorted(groups.items())
                if cpu_ns or switches
            }
        return found
