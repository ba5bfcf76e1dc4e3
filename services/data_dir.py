"""Which data directory an operator command acts on, and why (issue 15).

In order: ``P13N_DATA_DIR`` when set; else ``./var`` when it holds a suite (an auth
database or the certificates ``p13n up`` makes); else the directory of the suite ``p13n
up`` runs on this machine (``services.common.running``); else ``./var``, which then holds
nothing and the command says so. The command prints its choice on stderr, so that an
account made in the wrong place is never a surprise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.auth.store import database_path
from services.common.config import ConfigError
from services.common.running import RunningSuite, running_suites

DEFAULT = "var"


@dataclass(frozen=True)
class Chosen:
    """The data directory chosen, why, and the suites running (for the messages)."""

    path: Path
    why: str
    running: tuple[RunningSuite, ...]

    def announcement(self) -> str:
        return f"p13n: data directory {self.path} ({self.why})"

    def elsewhere(self, command: str, *, postgresql: bool) -> str:
        """What to say when no auth database lives in the chosen directory: the running
        suite's directory, or that none runs, and for bootstrap that ``--init`` makes one."""
        hints = []
        others = [s for s in self.running if Path(s.data_dir) != self.path]
        for suite in others:
            hints.append(
                f"the running suite keeps its data in {suite.describe()}: "
                f"set P13N_DATA_DIR={suite.data_dir} to act on it"
            )
        if any(s.postgresql for s in self.running) and not postgresql:
            hints.append(
                "the running suite keeps its databases in PostgreSQL: set P13N_DATABASE_URL "
                "as it has it"
            )
        if not self.running:
            hints.append("no suite started by `p13n up` runs on this machine")
        if command == "bootstrap":
            hints.append(f"`p13n bootstrap --init ...` creates a new auth database in {self.path}")
        return "".join(f"; {hint}" for hint in hints)


def _holds_a_suite(directory: Path) -> bool:
    return database_path(directory).is_file() or (directory / "pki").is_dir()


def choose(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Chosen:
    """The data directory for an operator command. Raises ConfigError when several suites
    run and nothing else decides between them."""
    env = os.environ if env is None else env
    running = tuple(running_suites(env))
    if env.get("P13N_DATA_DIR"):
        return Chosen(Path(env["P13N_DATA_DIR"]).resolve(), "P13N_DATA_DIR", running)
    local = ((cwd or Path.cwd()) / DEFAULT).resolve()
    if _holds_a_suite(local):
        return Chosen(local, "./var in the current directory", running)
    if len(running) == 1:
        return Chosen(Path(running[0].data_dir), "the running suite's", running)
    if len(running) > 1:
        names = ", ".join(suite.describe() for suite in running)
        raise ConfigError(
            f"several suites are running ({names}): set P13N_DATA_DIR to the one to act on"
        )
    return Chosen(local, "./var in the current directory; it holds no suite", running)
