"""Reads the aiosqlite round-trip counts that ``sitecustomize.py`` here writes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

HOOK_DIR = Path(__file__).parent


def env(out: Path) -> dict[str, str]:
    """Environment for a suite whose processes count their aiosqlite round trips."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(HOOK_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths), "P13N_SQLCOUNT_DIR": str(out)}


def read(out: Path, pid: int, timeout: float = 5.0) -> int:
    """Asks process ``pid`` for its count and returns it."""
    target = out / str(pid)
    target.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.exists() and (text := target.read_text()):
            return int(text)
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} did not report its aiosqlite count")
