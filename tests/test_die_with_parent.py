"""services/die_with_parent.py: a child started through it is stopped when its parent dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# A parent that starts a long sleeper through the guard, prints its pid, then waits.
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-m", "services.die_with_parent", str(os.getpid()), "sleep", "60"]
)
print(child.pid, flush=True)
time.sleep(60)
"""


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text()


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(") ", 1)[1][0] != "Z"  # a zombie is dead, awaiting its reaper


def test_the_child_dies_with_its_parent() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        deadline = time.monotonic() + 5
        while not _command(child).startswith("sleep") and time.monotonic() < deadline:
            time.sleep(0.02)  # until the guard has set the signal and exec'd the command
        assert _command(child).startswith("sleep")
        os.kill(parent.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child)


def test_a_child_whose_parent_is_already_gone_does_not_run() -> None:
    # 1 is never our parent: as if the parent had died before the signal was set.
    done = subprocess.run(
        [sys.executable, "-m", "services.die_with_parent", "1", "echo", "ran"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
