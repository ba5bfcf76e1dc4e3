"""Where the suites ``p13n up`` runs on this machine keep their data (issue 15).

The operator's commands (bootstrap, flags, certs) act on a data directory; run from
another working directory they used to make a ``./var`` of their own, and the key
bootstrap printed got 401 from the running suite. So ``p13n up`` records its data
directory, ports and pid in the user's state directory (``$XDG_STATE_HOME/p13n/running``,
by default ``~/.local/state/p13n/running``), one file per suite named by its pid, and
removes it when it stops. A file whose process is gone (a suite that was killed) is stale
and ignored. Nothing secret is recorded: not the keys, not the database URL (it may hold a
password), only whether the suite uses PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from services.common.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunningSuite:
    """One suite ``p13n up`` runs: its process, data directory and ports."""

    pid: int
    data_dir: str
    admin_port: int
    data_port: int
    postgresql: bool

    def describe(self) -> str:
        return f"{self.data_dir} (p13n up, pid {self.pid})"


def records_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The directory of the records: the XDG state directory's ``p13n/running``; None for
    a user with no home (a container's uid without a passwd entry and no ``HOME``)."""
    env = os.environ if env is None else env
    state = env.get("XDG_STATE_HOME")
    if not state:
        try:
            state = str(Path.home() / ".local" / "state")
        except RuntimeError:  # "Could not determine home directory"
            return None
    return Path(state) / "p13n" / "running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, though not ours
        return True
    return True


@contextlib.contextmanager
def recorded(settings: Settings, env: Mapping[str, str] | None = None) -> Iterator[Path | None]:
    """Records this process's suite for the block; the record is removed when it ends."""
    directory = records_dir(env)
    if directory is None:
        log.warning("cannot record the running suite: no XDG_STATE_HOME and no home directory")
        yield None
        return
    suite = RunningSuite(
        pid=os.getpid(),
        data_dir=str(settings.data_dir),
        admin_port=settings.admin_port,
        data_port=settings.data_port,
        postgresql=settings.database_url is not None,
    )
    path = directory / f"{suite.pid}.json"
    # Written whole, then renamed: a reader sees no file or the whole record.
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _remove_stale(directory)
        temporary.write_text(json.dumps(asdict(suite)) + "\n")
        temporary.replace(path)
    except OSError as error:
        # The suite runs all the same; only the commands run elsewhere will not find it.
        log.warning("cannot record the running suite in %s (%s)", directory, error)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):  # not recorded, or removed by hand
            path.unlink()


def _remove_stale(directory: Path) -> None:
    """Removes the records of suites whose process is gone (killed, so never removed)."""
    for path in directory.glob("*.json"):
        if path.stem.isdigit() and not _alive(int(path.stem)):
            with contextlib.suppress(OSError):
                path.unlink()


def running_suites(env: Mapping[str, str] | None = None) -> list[RunningSuite]:
    """The suites recorded whose process still runs, oldest pid first; stale records and
    unreadable ones are ignored."""
    directory = records_dir(env)
    found: list[RunningSuite] = []
    if directory is None:
        return found
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
        try:
            suite = RunningSuite(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if _alive(suite.pid):
            found.append(suite)
    return sorted(found, key=lambda suite: suite.pid)
