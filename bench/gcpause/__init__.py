"""Reads what ``sitecustomize.py`` here records in each process of a bench suite: collector
pauses, event-loop lag and the profile writer's batches (``bench/stalls.py`` sums them)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

HOOK_DIR = Path(__file__).parent
OUT_VARIABLE = "P13N_GCPAUSE_DIR"


def env(out: Path, pythonpath: str | None = None) -> dict[str, str]:
    """Environment for a suite whose processes record their stalls into ``out``; the hook
    goes first on ``pythonpath`` (default: this process's), whose own ``sitecustomize``
    (``bench/sqlcount``) it then runs too."""
    out.mkdir(parents=True, exist_ok=True)
    rest = os.environ.get("PYTHONPATH") if pythonpath is None else pythonpath
    paths = [str(HOOK_DIR), *filter(None, [rest])]
    return {"PYTHONPATH": os.pathsep.join(paths), OUT_VARIABLE: str(out)}


def records_into(pid: int, out: Path) -> bool:
    """Whether process ``pid`` runs the hook, writing into ``out``: only such a process may
    be sent SIGUSR2. The hook leaves ``<pid>.hooked`` naming its executable once its handler
    is in place; a process that has since exec'd another program (``envoy`` is a Python
    wrapper that execs Envoy, which would die of the signal) runs another executable."""
    try:
        return (out / f"{pid}.hooked").read_text() == os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False


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
