"""Times the garbage collector's pauses in a p13n process (``python -m bench.gcpauses``).

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``; ``bench.gcpauses`` puts
this directory there for the suite it starts, and nowhere else. A ``gc.callbacks`` hook
times every collection, by generation; on SIGUSR2 the process writes what it saw since the
last report to ``$P13N_GCPAUSE_DIR/<pid>.json`` and starts afresh.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

if os.environ.get("P13N_GCPAUSE_DIR"):
    _pauses: list[tuple[int, float, int]] = []  # generation, seconds, objects collected
    _started = [0.0]

    def _timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
        else:
            _pauses.append(
                (info["generation"], time.perf_counter() - _started[0], info["collected"])
            )

    def _write(*_: object) -> None:
        found = list(_pauses)
        _pauses.clear()
        report = {
            "pauses": found,
            "tracked": [len(gc.get_objects(generation)) for generation in range(3)],
            "frozen": gc.get_freeze_count(),
            "threshold": gc.get_threshold(),
        }
        target = Path(os.environ["P13N_GCPAUSE_DIR"]) / f"{os.getpid()}.json"
        partial = target.with_suffix(".part")
        partial.write_text(json.dumps(report))
        partial.rename(target)

    gc.callbacks.append(_timed)
    signal.signal(signal.SIGUSR2, _write)
