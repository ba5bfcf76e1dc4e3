"""Sampling profiles of the services while P is under load (py-spy, from PyPI).

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``); the
summary counts, per process, the share of samples in which a function is on the stack
(inclusive) and on top of it (self). Idle samples are dropped (py-spy's default), so the
shares are of the time the process was busy running Python or waiting in C under Python.
grpcio's Cython core has no symbols py-spy can unwind, so its time shows as the frame that
called into it (``Runner.run`` for the event loop, ``Thread.run`` for gRPC's threads).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from bench.suite import venv_bin

_LINE = re.compile(r"^(.*) (\d+)$")


def py_spy() -> str | None:
    candidate = Path(venv_bin("py-spy"))
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def _frame(raw: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)", so lines of one function merge.
    name, _, where = raw.partition(" (")
    file = where.split(":", 1)[0].rsplit("/", 1)[-1]
    return f"{name} ({file})" if file else name


_LOOPS = ("Runner.run ", "Thread.run ")


def _is_ours(raw: str) -> bool:
    """A frame of p13n's services or of the bench's own servers."""
    where = raw.partition(" (")[2]
    return ("services/" in where or "bench/" in where) and "site-packages" not in where


def summarize(collapsed: str, top: int = 15) -> dict[str, Any]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = in_p13n = 0
    for line in collapsed.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        stack, count = match[1].split(";"), int(match[2])
        raws = [f for f in stack if f]
        frames = [_frame(f) for f in raws]
        # Only what runs under the event loop or a thread, not the entry point around it.
        loop = max((i for i, f in enumerate(frames) if f.startswith(_LOOPS)), default=-1)
        ours = {frames[i] for i in range(loop + 1, len(raws)) if _is_ours(raws[i])}
        total += count
        if ours:
            in_p13n += count
        for frame in ours:
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        # Samples with any frame of p13n's own code on the stack; the rest is grpc.aio's
        # Cython core under the event loop, its threads, and asyncio itself.
        "p13n_code_pct": round(100 * in_p13n / total, 1) if total else 0.0,
        # Inclusive shares of p13n's own functions only; self shares of any function.
        "inclusive_pct": share(inclusive),
        "self_pct": share(own),
    }


def record(roles: dict[str, list[int]], seconds: float, run_load: Any) -> dict[str, Any]:
    """Profiles each role's first process for ``seconds`` while ``run_load()`` drives."""
    pids = {name: processes[0] for name, processes in roles.items()}
    spy = py_spy()
    if spy is None:
        return {"skipped": "py-spy is not installed: .venv/bin/pip install py-spy==0.4.3"}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="p13n-spy-") as tmp:
        processes = {
            name: subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(round(seconds)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(Path(tmp) / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, pid in pids.items()
        }
        load = threading.Thread(target=run_load)
        load.start()
        for name, process in processes.items():
            _, err = process.communicate()
            path = Path(tmp) / f"{name}.txt"
            if process.returncode != 0 or not path.exists():
                results[name] = {"skipped": f"py-spy failed: {err.strip()[-300:]}"}
            else:
                results[name] = summarize(path.read_text())
        load.join()
    return results
