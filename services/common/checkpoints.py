"""WAL checkpoints off the writer's path: a connection and a thread of their own.

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1,000 pages:
that COMMIT copies every page the WAL holds into the database file and fsyncs it, and on a
group-commit writer every request waiting for the batch waits too (10 to 14 ms at a million
profiles, once per 1,000 pages). A database opened with a ``CheckpointPolicy`` turns that off
on its serving connection, and a ``Checkpointer`` runs a PASSIVE checkpoint every
``interval`` seconds from its own connection on its own thread, then syncs the database
file itself. PASSIVE copies what no reader still needs and never waits for or blocks the
writer, and ``sqlite3`` releases the GIL while SQLite copies and syncs. Small passes matter:
the disk writes a pass's pages while the writer syncs the WAL, so a large pass delays
commits as surely as an in-COMMIT checkpoint (``docs/decisions.md`` has the figures).

The WAL is reused from its start (and so stops growing) when a write transaction begins on a
WAL that is wholly checkpointed. Under continuous writes a background pass may never finish
between two commits, and the WAL would grow without end. So when a pass finds more than
``max_frames`` frames in the WAL, it asks the writer to help: the next write transaction
first runs a PASSIVE checkpoint on the serving connection (``Checkpointer.before_write``, on
the database thread). The background passes have copied and synced all but the last
``interval``'s pages by then, so the writer copies and syncs only those; the WAL restarts.

Durability is unchanged. A transaction is durable once its COMMIT has synced the WAL
(``synchronous=FULL`` on the serving connection); a checkpoint copies committed pages only,
and with ``synchronous=FULL`` on its own connection SQLite syncs the database file before
the WAL may be reused, whatever this module syncs in addition.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointPolicy:
    """When checkpoints run: every ``interval`` seconds, and with the writer's help past
    ``max_frames`` WAL frames (8,192 frames of 4 KiB pages: 32 MiB)."""

    interval: float = 0.05
    max_frames: int = 8192


@dataclass(frozen=True)
class Pass:
    """One checkpoint's answer: frames in the WAL, frames copied, and whether it was busy."""

    busy: bool
    wal_frames: int
    copied: int


class Checkpointer:
    """PASSIVE checkpoints of the database at ``path`` from a thread of their own."""

    def __init__(self, path: Path, policy: CheckpointPolicy) -> None:
        self.policy = policy
        self._path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Set by the checkpoint thread, read and cleared on the database thread; a lost or
        # extra request only moves one catch-up by a pass, so a plain flag is enough.
        self._help_wanted = False
        self.passes = 0  # background checkpoints run
        self.catch_ups = 0  # checkpoints the writer ran before a write transaction
        self.last: Pass | None = None
        self._fd: int | None = None  # the database file, for _flush

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"checkpoint {self._path.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread after its current pass (blocks until then)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def help_wanted(self) -> bool:
        return self._help_wanted

    def before_write(self, conn: sqlite3.Connection) -> None:
        """On the database thread, outside a transaction, before BEGIN: catch up if asked."""
        if not self._help_wanted or conn.in_transaction:
            return
        self._help_wanted = False
        try:
            checkpoint(conn)
        except sqlite3.Error:  # the writes must not fail for it; the next pass asks again
            log.exception("the writer's checkpoint of %s failed", self._path.name)
            return
        self.catch_ups += 1

    def run_once(self, conn: sqlite3.Connection) -> Pass:
        """One background pass on the checkpoint connection."""
        done = checkpoint(conn)
        if done.copied > 0 and done != self.last:  # copied pages since the last pass
            self._flush()
        self.passes += 1
        self.last = done
        if done.wal_frames >= self.policy.max_frames:
            self._help_wanted = True
        return done

    def _flush(self) -> None:
        # SQLite syncs the database file only when a checkpoint reaches the end of the WAL,
        # which a busy writer never lets a background pass do: every page copied since the
        # WAL last restarted would wait for the writer's catch-up to sync it (65 ms for 11,000
        # frames in bench/bigstore.py). Syncing here after each pass leaves that sync only
        # the pages copied since. SQLite still makes its own sync before the WAL is reused;
        # this one changes when pages reach the disk, not what durability rests on.
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDONLY)
        os.fdatasync(self._fd)

    def _run(self) -> None:
        conn = connect(self._path)
        try:
            while not self._stop.wait(self.policy.interval):
                try:
                    self.run_once(conn)
                except (sqlite3.Error, OSError):  # the thread must outlive any one pass
                    log.exception("checkpoint of %s failed", self._path.name)
        finally:
            conn.close()


def connect(path: Path) -> sqlite3.Connection:
    """A connection for checkpoints: it never writes, and syncs what it copies."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def checkpoint(conn: sqlite3.Connection, mode: str = "PASSIVE") -> Pass:
    busy, frames, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    return Pass(bool(busy), int(frames), int(copied))
