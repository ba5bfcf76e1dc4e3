"""Records, in a p13n process the bench started, what can stall it: collector pauses, the
event loop's lag, the profile writer's batches, the SQLite checkpoints and the profile's
writes on PostgreSQL, in 100-ms buckets of the wall clock.

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``; the bench puts this
directory there for the suites it starts (``bench.gcpause.env``), and nowhere else, so the
product code carries none of this. With ``$P13N_GCPAUSE_DIR`` set:

- a ``gc.callbacks`` hook times every collection, by generation;
- the first ``run_forever`` of each event loop (uvloop's or asyncio's: services start
  through ``uvloop.run`` in ``services/common/main.py``) starts a probe, a ``call_later``
  every 50 ms that records how late it fired (uvloop's timers round to the millisecond, so
  ~1 ms of it is the timer's own granularity);
- at that same moment, if ``services.profile.group_commit`` is imported (the profile
  service imports it at start-up), its ``GroupCommit`` is wrapped: each batch's size and
  commit time, and each unit's wait in the queue (a timed ``asyncio.Queue``). These are
  private names of the product (``_queue``, ``_commit``); ``tests/bench/test_gcpause_hook.py``
  fails if they change;
- and, if ``services.common.checkpoints`` is imported (every SQLite store of the suite),
  its ``Checkpointer``: how long each background pass took (the copy and the database
  file's sync, on the checkpoint thread: the disk is busy meanwhile) and each catch-up the
  writer ran before a write transaction (which the writes behind it wait for);
- and, if ``services.profile.postgres_profile`` is imported (a profile store on
  PostgreSQL, which has no group-commit writer), its ``PostgresTransactions``: how long each
  write took, from asking the pool for a connection to the end of its commit (or of its
  last statement, for a write without a transaction). A slow one is the server's sync, a
  lock or a pool with no connection free: the request waited that long.

Every Python thread the process starts is named for the operating system after what it runs
(``grpc.aio poller``, ``aiosqlite``, ``checkpoint prof``...: 15 bytes at most), so the
bench's ``ThreadMeter`` can tell the threads of a process apart in /proc; Python 3.11 leaves
them all with the process's name.

At start-up it leaves ``$P13N_GCPAUSE_DIR/<pid>.hooked`` naming its executable (the bench
signals only a process still running it); on SIGUSR2 it writes what it recorded since the last report to
``$P13N_GCPAUSE_DIR/<pid>.json`` and starts afresh. Only the last three minutes are kept.
Any other ``sitecustomize`` later on the path (``bench/sqlcount``) runs too.
"""

from __future__ import annotations

import array
import asyncio
import collections
import gc
import importlib.util
import json
import os
import signal
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

BUCKET_S = 0.1
KEEP_BUCKETS = 1800  # the last three minutes (the bench empties them before each run)
PROBE_S = 0.05


class _Bucket:
    """One 100-ms bucket. Arrays, not lists: the collector does not track them, so the
    records add one tracked object per bucket to what a full collection walks."""

    __slots__ = ("batches", "catch_ups", "commits", "gc", "lags", "passes", "pg_writes", "waits")

    def __init__(self) -> None:
        self.gc = array.array("d", [0.0] * 9)  # per generation: count, total s, max s
        self.lags = array.array("d")  # the probe's lateness, s
        self.batches = array.array("q")  # units per group commit
        self.commits = array.array("d")  # seconds each group commit took
        self.waits = array.array("d")  # seconds each unit waited in the writer's queue
        self.passes = array.array("d")  # seconds each background checkpoint pass took
        self.catch_ups = array.array("d")  # seconds each checkpoint the writer ran took
        self.pg_writes = array.array("d")  # seconds each profile write on PostgreSQL took

    def as_dict(self, key: int) -> dict[str, Any]:
        return {
            "at": round(key * BUCKET_S, 1),
            "gc": [[int(self.gc[g * 3]), self.gc[g * 3 + 1], self.gc[g * 3 + 2]] for g in range(3)],
            "lags": self.lags.tolist(),
            "batches": self.batches.tolist(),
            "commits": self.commits.tolist(),
            "waits": self.waits.tolist(),
            "passes": self.passes.tolist(),
            "catch_ups": self.catch_ups.tolist(),
            "pg_writes": self.pg_writes.tolist(),
        }


_buckets: dict[int, _Bucket] = {}


def _bucket(wall: float) -> _Bucket:
    key = int(wall / BUCKET_S)
    found = _buckets.get(key)
    if found is None:
        found = _buckets[key] = _Bucket()
        if len(_buckets) > KEEP_BUCKETS:
            del _buckets[next(iter(_buckets))]
    return found


# What the checkpoint and database threads timed: (wall clock, "passes" or "catch_ups",
# seconds), put into buckets by the report. A deque's append is atomic; no lock, which a
# collection running inside the locked section (its callback records too) would deadlock on.
_from_threads: collections.deque[tuple[float, str, float]] = collections.deque(maxlen=100_000)


def _settle_threads() -> None:
    while _from_threads:
        wall, kind, seconds = _from_threads.popleft()
        getattr(_bucket(wall), kind).append(seconds)


_started = [0.0, 0.0]  # perf_counter and wall clock when the current collection began


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0], _started[1] = time.perf_counter(), time.time()
        return
    paused = time.perf_counter() - _started[0]
    counts, at = _bucket(_started[1]).gc, info["generation"] * 3
    counts[at] += 1
    counts[at + 1] += paused
    counts[at + 2] = max(counts[at + 2], paused)


def _probe(loop: asyncio.AbstractEventLoop) -> None:
    due = [time.perf_counter() + PROBE_S]

    def tick() -> None:
        now = time.perf_counter()
        # uvloop's timers round to the millisecond, so a timer may fire a fraction of a
        # millisecond early (seen: -0.04 ms): early is on time, not a negative lag.
        _bucket(time.time()).lags.append(max(0.0, now - due[0]))
        due[0] = now + PROBE_S
        loop.call_later(PROBE_S, tick)

    loop.call_later(PROBE_S, tick)


class _TimedQueue(asyncio.Queue):  # type: ignore[type-arg]
    """The writer's queue, timing each unit from put to get (FIFO: one clock per unit)."""

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self._since: collections.deque[float] = collections.deque()

    def _put(self, item: Any) -> None:
        self._since.append(time.perf_counter())
        super()._put(item)

    def _get(self) -> Any:
        _bucket(time.time()).waits.append(time.perf_counter() - self._since.popleft())
        return super()._get()


_writer_wrapped = [False]


def _wrap_writer() -> None:
    module = sys.modules.get("services.profile.group_commit")
    if module is None or _writer_wrapped[0]:
        return
    _writer_wrapped[0] = True
    cls = module.GroupCommit
    init, commit = cls.__init__, cls._commit

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._queue = _TimedQueue()

    async def _commit(self: Any, batch: list[Any]) -> None:
        started, wall = time.perf_counter(), time.time()
        try:
            await commit(self, batch)
        finally:
            found = _bucket(wall)
            found.batches.append(len(batch))
            found.commits.append(time.perf_counter() - started)

    cls.__init__, cls._commit = __init__, _commit


_checkpoints_wrapped = [False]


def _wrap_checkpoints() -> None:
    module = sys.modules.get("services.common.checkpoints")
    if module is None or _checkpoints_wrapped[0]:
        return
    _checkpoints_wrapped[0] = True
    cls = module.Checkpointer
    run_once, before_write = cls.run_once, cls.before_write

    def timed_run_once(self: Any, conn: Any) -> Any:
        started, wall = time.perf_counter(), time.time()
        try:
            return run_once(self, conn)
        finally:
            _from_threads.append((wall, "passes", time.perf_counter() - started))

    def timed_before_write(self: Any, conn: Any) -> None:
        if not self.help_wanted:  # the usual case: nothing to run, nothing to record
            before_write(self, conn)
            return
        started, wall = time.perf_counter(), time.time()
        try:
            before_write(self, conn)
        finally:
            _from_threads.append((wall, "catch_ups", time.perf_counter() - started))

    cls.run_once, cls.before_write = timed_run_once, timed_before_write


_pg_writes_wrapped = [False]


def _wrap_pg_writes() -> None:
    module = sys.modules.get("services.profile.postgres_profile")
    if module is None or _pg_writes_wrapped[0]:
        return
    _pg_writes_wrapped[0] = True
    cls = module.PostgresTransactions
    cls.write, cls.write_unlocked = _timed_write(cls.write), _timed_write(cls.write_unlocked)


def _timed_write(write: Any) -> Any:
    async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started, wall = time.perf_counter(), time.time()
        try:
            return await write(self, *args, **kwargs)
        finally:
            _bucket(wall).pg_writes.append(time.perf_counter() - started)

    return timed


_probed: weakref.WeakSet[Any] = weakref.WeakSet()


def _wrap_run_forever(cls: Any) -> None:
    original = cls.run_forever

    def run_forever(self: Any) -> Any:
        if self not in _probed:
            _probed.add(self)
            _wrap_writer()
            _wrap_checkpoints()
            _wrap_pg_writes()
            _probe(self)
        return original(self)

    cls.run_forever = run_forever


# Targets whose threads get a name that says what they are, not the function's name.
_THREAD_NAMES = {"_poll_wrapper": "grpc.aio poller", "_connection_worker_thread": "aiosqlite"}


def _os_name(thread_name: str) -> str:
    """``Thread-3 (_poll_wrapper)`` -> ``grpc.aio poller``; a name of its own stays."""
    target = thread_name.partition(" (")[2].rstrip(")")
    if target:
        return _THREAD_NAMES.get(target, target.lstrip("_"))
    return thread_name


def _name_threads() -> None:
    # Thread.run runs on the new thread; a subclass with a run of its own (the process
    # pool's manager thread) keeps the process's name, and only the report loses by it.
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        try:
            path = Path(f"/proc/self/task/{threading.get_native_id()}/comm")
            path.write_text(_os_name(self.name).encode()[:15].decode(errors="ignore"))
        except OSError:  # only the bench's reading of /proc loses by it
            pass
        original(self)

    threading.Thread.run = run  # type: ignore[method-assign]


def _write(*_: object) -> None:
    # No collection while the buckets are read: one would run _timed, which adds a bucket to
    # the dict being copied ("dictionary keys changed during iteration", seen in auth).
    enabled = gc.isenabled()
    gc.disable()
    try:
        _report()
    finally:
        if enabled:
            gc.enable()


def _report() -> None:
    _settle_threads()
    found = [bucket.as_dict(key) for key, bucket in list(_buckets.items())]
    _buckets.clear()
    report = {
        "bucket_s": BUCKET_S,
        "buckets": found,
        "writer_wrapped": _writer_wrapped[0],
        "checkpoints_wrapped": _checkpoints_wrapped[0],
        "pg_writes_wrapped": _pg_writes_wrapped[0],
        "tracked": [len(gc.get_objects(generation)) for generation in range(3)],
        "frozen": gc.get_freeze_count(),
        "threshold": gc.get_threshold(),
    }
    target = Path(os.environ["P13N_GCPAUSE_DIR"]) / f"{os.getpid()}.json"
    partial = target.with_suffix(".part")
    partial.write_text(json.dumps(report))
    partial.rename(target)


def _chain() -> None:
    """Runs the next ``sitecustomize`` on the path, which this one hides."""
    here = os.path.dirname(os.path.abspath(__file__))
    entries = [os.path.abspath(e) for e in sys.path if e]
    after = entries[entries.index(here) + 1 :] if here in entries else []
    for entry in after:
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_chained_sitecustomize", candidate)
            if spec is not None and spec.loader is not None:
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
            return


if os.environ.get("P13N_GCPAUSE_DIR"):
    gc.callbacks.append(_timed)
    signal.signal(signal.SIGUSR2, _write)
    # Says this process may be sent SIGUSR2 (to others in the suite it is fatal), as long as
    # it runs this executable: a wrapper that execs another program (Envoy's) keeps the pid.
    hooked = Path(os.environ["P13N_GCPAUSE_DIR"]) / f"{os.getpid()}.hooked"
    hooked.write_text(os.readlink("/proc/self/exe"))
    _name_threads()
    _wrap_run_forever(asyncio.BaseEventLoop)
    try:
        import uvloop
    except ImportError:  # a process without uvloop runs asyncio's loop only
        pass
    else:
        _wrap_run_forever(uvloop.Loop)

_chain()
