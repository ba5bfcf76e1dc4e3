"""Reads the collector pauses that ``sitecustomize.py`` here records."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

HOOK_DIR = Path(__file__).parent


def env(out: Path) -> dict[str, str]:
    """Environment for a suite whose processes time their collections."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(HOOK_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths), "P13N_GCPAUSE_DIR": str(out)}


def read(out: Path, pid: int, timeout: float = 5.0) -> dict[str, Any]:
    """What process ``pid`` saw since its last report (and resets it)."""
    target = out / f"{pid}.json"
    target.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.exists():
            found: dict[str, Any] = json.loads(target.read_text())
            return found
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} did not report its collections")
