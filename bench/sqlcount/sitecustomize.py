"""Counts aiosqlite round trips in a p13n process (``python -m bench.run --count-sqlite``).

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``; the bench puts this
directory there for the suite it starts, and nowhere else. Every call aiosqlite hands to
its connection thread passes through ``Connection._execute``; on SIGUSR1 the process
writes its count so far to ``$P13N_SQLCOUNT_DIR/<pid>``. That name is aiosqlite's, private:
the product's one use of it is ``services.common.aiosqlite_thread``, whose test
(``tests/common/test_aiosqlite_thread.py``) fails if the pinned aiosqlite renames it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

try:
    from aiosqlite import core
except ImportError:  # a process without aiosqlite has nothing to count
    core = None

if core is not None and os.environ.get("P13N_SQLCOUNT_DIR"):
    _calls = [0]
    _original = core.Connection._execute

    async def _counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        _calls[0] += 1
        return await _original(self, fn, *args, **kwargs)

    def _write(*_: object) -> None:
        target = Path(os.environ["P13N_SQLCOUNT_DIR"]) / str(os.getpid())
        target.write_text(str(_calls[0]))

    core.Connection._execute = _counted
    signal.signal(signal.SIGUSR1, _write)
