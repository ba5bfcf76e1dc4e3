"""The bench's smoke mode, run as CI runs it: every step once, on tiny loads.

It checks that the bench still works end to end (suite up, configuration through the
admin API, floors, wrk, reports), never how fast anything is. It needs Debian's ``wrk``,
which .ci/run installs, as it installs Chromium for the browser tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_measures_every_path_and_writes_its_reports(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path), "--name", "smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "smoke.json").read_text())
    for path in ("F1", "F2", "F3", "F3r", "T", "P-plain", "P"):
        row = results["rows"][path]
        assert "skipped" not in row, (path, row)
        assert row["requests"] > 0, path
        assert sum(row["errors"].values()) == 0, (path, row["errors"])
        assert set(row["cpu_per_request_s"]) >= {"envoy", "loadgen"}, path
    assert set(results["rows"]["P"]["cpu_per_request_s"]) >= {"auth", "profile", "offers"}
    # P again on a suite without internal TLS, and what mutual TLS costs between the two.
    plain = results["rows"]["P-plain"]
    assert "skipped" not in plain
    assert plain["requests"] > 0
    assert sum(plain["errors"].values()) == 0, plain["errors"]
    assert set(results["mtls"]) >= {"P_req_per_s", "P_plain_req_per_s", "drop"}
    # The configured path really personalizes: rendered sections, and sensitive ones as {}.
    offers = results["sample_answer"]["offers"]
    assert {} in offers.values()
    assert any(offer.get("attributes") for offer in offers.values())
    half = results["half_rate"]
    assert half["path"] == "P"
    assert set(half["statuses"]) == {"200"}, half["statuses"]
    markdown = (tmp_path / "smoke.md").read_text()
    assert "| F1 Envoy direct_response |" in markdown
