"""The shared entry point: a started service keeps its start-up objects out of collections."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from support.ports import free_port, is_open

HOOK = Path(__file__).resolve().parents[2] / "bench" / "gcpause"


def collections(out: Path, pid: int) -> dict[str, Any]:
    """Asks the hook in process ``pid`` for its report (``bench/gcpause/sitecustomize.py``)."""
    target = out / f"{pid}.json"
    target.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    found: dict[str, Any] = json.loads(target.read_text())
    return found


def test_a_started_service_has_frozen_its_start_up_objects(tmp_path: Path) -> None:
    """A real service process, read through the bench's collector hook (``bench/gcpause``):
    once serving, what start-up made is frozen, so a full collection walks little."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HOOK), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "P13N_GCPAUSE_DIR": str(tmp_path),
        "P13N_DATA_DIR": str(tmp_path),
        "P13N_AUTH_PORT": str(port),
        "P13N_SHUTDOWN_GRACE": "1",
        "P13N_DRAIN_SECONDS": "0",
    }
    process = subprocess.Popen([sys.executable, "-m", "services.auth"], env=env)
    try:
        deadline = time.monotonic() + 20
        while not is_open(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert is_open(port)
        # Listening comes just before the freeze; ask until the freeze has happened.
        report = collections(tmp_path, process.pid)
        while report["frozen"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            report = collections(tmp_path, process.pid)
        assert report["frozen"] > 10_000  # modules, descriptors, grpc: all of start-up
        assert report["tracked"][2] < report["frozen"] // 10
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
