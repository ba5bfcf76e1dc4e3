"""A service as its own process (``python -m services.<name>``), as `p13n up` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.common import pki


def start_service(name: str, data_dir: Path, port: int, **env: str) -> subprocess.Popen[str]:
    """Starts service ``name`` on ``port`` over ``data_dir``; stderr (its log) is piped.

    ``env`` adds settings (``P13N_DRAIN_SECONDS="0"`` ...); the grace defaults to 1 s. The
    certificates are made first under ``data_dir/pki``, as `p13n up` does.
    """
    pki.ensure(data_dir / "pki")
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        env={
            **os.environ,
            "P13N_DATA_DIR": str(data_dir),
            f"P13N_{name.upper()}_PORT": str(port),
            "P13N_SHUTDOWN_GRACE": "1",
            **env,
        },
        stderr=subprocess.PIPE,
        text=True,
    )
