"""Under CI=true no test may skip (tests/conftest.py turns a skip into a failure)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SKIPPING = (
    "import pytest\n\n\ndef test_needs_a_missing_part() -> None:\n    pytest.skip('no such tool')\n"
)


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    # The conftest imports the product (services/): this tree's, not whichever is installed.
    (tmp_path / "test_skips.py").write_text(SKIPPING)
    root = Path(__file__).parent
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "--confcutdir", str(root), "-c", "/dev/null", "--override-ini", "pythonpath=" + str(root),
         "-p", "conftest", str(tmp_path / "test_skips.py")],
        capture_output=True, text=True, check=False,
        env=os.environ | {"CI": ci, "PYTHONPATH": f"{root}{os.pathsep}{root.parent}"}, cwd=tmp_path,
    )  # fmt: skip


def test_a_skip_fails_under_ci(tmp_path: Path) -> None:
    ran = _run(tmp_path, "true")
    assert ran.returncode == 1, ran.stdout
    assert "skipped under CI=true" in ran.stdout


def test_a_skip_is_a_skip_elsewhere(tmp_path: Path) -> None:
    ran = _run(tmp_path, "")
    assert ran.returncode == 0, ran.stdout
    assert "1 skipped" in ran.stdout
