"""`p13n import` against a running suite: files in, values readable through the admin API."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.admin import Account

from services.cli import import_state

from .conftest import CliRunner

KEY = "member_id"


@pytest.fixture(scope="module")
def ps(account: Account) -> str:
    """A parent segment with the key ``member_id``, IMPORTED ``tier`` and ``points``, and
    a batch segment ``vip``."""
    ps = account.parent_segment("Importers")
    account.ok("POST", f"/v1/parent_segments/{ps}/stitching_keys", {"name": KEY})
    for name in ("tier", "points"):
        body = {"name": name, "type": "IMPORTED", "sensitivity": "NON_SENSITIVE"}
        account.ok("POST", f"/v1/parent_segments/{ps}/attributes", body)
    account.ok(
        "POST", f"/v1/parent_segments/{ps}/segments", {"name": "vip", "sensitivity": "SENSITIVE"}
    )
    return ps


def profile(account: Account, ps: str, value: str) -> dict[str, Any]:
    found: dict[str, Any] = account.ok("GET", f"/v1/parent_segments/{ps}/profiles/{KEY}/{value}")
    return found


def values(account: Account, ps: str, value: str) -> dict[str, Any]:
    return {a["name"]: a["value"] for a in profile(account, ps, value)["attributes"]}


def write_csv(path: Path, count: int, prefix: str) -> Path:
    with path.open("w") as out:
        out.write(f"{KEY},tier,points\n")
        for n in range(count):
            out.write(f"{prefix}{n},t{n % 3},{n}\n")
    return path


def checkpoints() -> list[Path]:
    return sorted(import_state.directory().glob("*.json"))


def test_10000_csv_rows_are_imported_with_a_progress_line(
    p13n: CliRunner, account: Account, ps: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "members.csv", 10_000, "a")
    ran = p13n("import", "attributes", str(path), "--key", KEY, "-s", ps)
    assert ran.code == 0, ran
    assert "10000/10000 rows, 0 rejected" in ran.err  # the bar's last state, not a terminal
    assert f"{path}: 10000 rows, 10000 imported, 0 rejected" in ran.out
    for n in (0, 4321, 9999):
        # Numbers in the CSV arrive as numbers (criteria compare them as such).
        assert values(account, ps, f"a{n}") == {"tier": f"t{n % 3}", "points": n}
    assert checkpoints() == []  # a finished import leaves no checkpoint
    assert not path.with_name("members.csv.rejects").exists()


def test_jsonl_lines_are_imported_as_written(
    p13n: CliRunner, account: Account, ps: str, tmp_path: Path
) -> None:
    path = tmp_path / "people.ndjson"
    lines = [
        {"value": "j1", "attributes": {"tier": "007", "points": 1.5}},
        {"value": "j2", "attributes": {"tier": True}},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ran = p13n("import", "attributes", str(path), "--key", KEY, "-s", ps)
    assert ran.code == 0, ran
    assert values(account, ps, "j1") == {"tier": "007", "points": 1.5}
    assert values(account, ps, "j2") == {"tier": True}


def test_rejected_rows_are_listed_by_line_and_the_rest_is_imported(
    p13n: CliRunner, account: Account, ps: str, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        f"{KEY},tier,points\n"  # 1
        'r1,"gold\nstar",1\n'  # 2-3: a quoted cell over two lines
        "r2,silver\n"  # 4: a cell short, refused here
        f"{'x' * 600},gold,2\n"  # 5: a key value over 500 characters, refused by the server
        "r3,bronze,3\n"  # 6: in the same batch as line 5
        "r4,gold,4\n"  # 7
    )
    rejects = tmp_path / "out" / "mixed.rejected"
    rejects.parent.mkdir()
    ran = p13n(
        "import", "attributes", str(path), "--key", KEY, "-s", ps,
        "--batch-size", "3", "--rejects", str(rejects),
    )  # fmt: skip
    assert ran.code == 1, ran
    listed = rejects.read_text().splitlines()
    assert [line.split(":")[0] for line in listed] == ["line 4", "line 5"]
    assert listed[0] == "line 4: 2 cells where the header has 3"
    assert listed[1].startswith("line 5: refused by the server: value is too long")
    assert listed[0] in ran.err
    assert listed[1] in ran.err
    assert f"{path}: 5 rows, 3 imported, 2 rejected (listed in {rejects})" in ran.out
    assert values(account, ps, "r1") == {"tier": "gold\nstar", "points": 1}
    assert values(account, ps, "r3") == {"tier": "bronze", "points": 3}
    assert values(account, ps, "r4") == {"tier": "gold", "points": 4}


def test_a_batch_refused_as_a_whole_stops_the_import_with_the_servers_message(
    p13n: CliRunner, ps: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "wrong.csv", 3, "w")
    ran = p13n("import", "attributes", str(path), "--key", "nope", "--value-column", KEY, "-s", ps)
    assert ran.code == 1
    assert "'nope' is not a stitching key of this parent segment" in ran.err
    assert "before any batch was acknowledged" in ran.err


class HeldAfter:
    """The admin API behind a proxy that passes the first ``batches`` POSTs and holds the
    next one unanswered until ``open``, so an import is caught mid-way however fast the
    machine imports: no race between the interruption and the file's last batch. (The
    resumed import goes through it too: a checkpoint belongs to the admin URL it was made
    against.)"""

    def __init__(self, admin_url: str, batches: int) -> None:
        self.holding = threading.Event()
        self._release = threading.Event()
        self._passed = 0
        upstream = urlsplit(admin_url)
        host, port = upstream.hostname or "127.0.0.1", upstream.port
        gate = self

        class Forwarder(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                if gate._passed >= batches and not gate._release.is_set():
                    gate.holding.set()
                    gate._release.wait(60)
                    self.close_connection = True
                    return  # no answer: the client is interrupted while it waits
                gate._passed += 1
                self._forward()

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                connection = http.client.HTTPConnection(host, port)
                try:
                    connection.request(self.command, self.path, body, dict(self.headers))
                    reply = connection.getresponse()
                    answer = reply.read()
                finally:
                    connection.close()
                self.send_response(reply.status)
                self.send_header("content-type", reply.getheader("content-type", ""))
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forwarder)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def open(self) -> None:
        """Answers nothing held and holds nothing more: every request passes."""
        self._release.set()

    def close(self) -> None:
        self.open()
        self._server.shutdown()
        self._server.server_close()


# Runs a module as `python -m` does, with Ctrl-C raising KeyboardInterrupt as from a
# terminal: a test run started in the background (`cmd &` in a script) ignores SIGINT, and
# its children inherit that. Set in the child itself, not in a preexec_fn: that makes
# subprocess fork this process, whose gRPC threads (the suite runs in it) leave the forked
# child broken (a CI run's child died of "epoll_wait error: Bad file descriptor" before it
# ran; services/die_with_parent.py says the same of the supervisor's children).
AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv = sys.argv[1:]; runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


def test_an_interrupted_import_resumes_where_it_stopped(
    p13n: CliRunner, account: Account, ps: str, tmp_path: Path
) -> None:
    rows = 20_000
    path = write_csv(tmp_path / "big.csv", rows, "i")
    args = ["import", "attributes", str(path), "--key", KEY, "-s", ps, "--batch-size", "500"]
    command = [sys.executable, "-c", AS_FROM_A_TERMINAL, "services.cli", *args]
    held = HeldAfter(p13n.admin_url, batches=3)
    env = {**os.environ, "P13N_ADMIN_URL": held.url, "P13N_API_KEY": account.api_key}
    root = Path(__file__).resolve().parents[2]  # this tree's services/, not an installed one
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Ctrl-C while the fourth batch waits for its answer: three are acknowledged.
        assert held.holding.wait(60), child.communicate(timeout=30)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
        assert child.returncode == 130, err
        assert b"run the same command again to resume" in err
        saved = import_state.load(checkpoints()[0])
        assert saved is not None
        assert saved.rows == 3 * 500

        held.open()
        ran = p13n(*args, env={"P13N_ADMIN_URL": held.url, "P13N_API_KEY": account.api_key})
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()  # reaped, its pipes closed
        held.close()
    assert ran.code == 0, ran
    assert f"resuming at line {saved.next.line} ({saved.rows} rows done before" in ran.err
    # Counted from the checkpoint: a run that started over would count more rows.
    assert f"{path}: {rows} rows, {rows} imported, 0 rejected" in ran.out
    for n in (0, saved.rows - 1, saved.rows, rows - 1):
        assert values(account, ps, f"i{n}") == {"tier": f"t{n % 3}", "points": n}
    assert checkpoints() == []


def test_members_join_a_batch_segment_named_by_its_name(
    p13n: CliRunner, account: Account, ps: str, tmp_path: Path
) -> None:
    path = tmp_path / "vip.csv"
    path.write_text("member\n" + "".join(f"v{n}\n" for n in range(50)))
    ran = p13n("import", "members", str(path), "--segment", "vip", "--key", KEY, "-s", ps)
    assert ran.code == 0, ran
    assert "50/50 rows" in ran.err
    for n in (0, 49):
        found = profile(account, ps, f"v{n}")
        assert found["segments"] == [{"name": "vip", "sensitivity": "SENSITIVE"}]
    account.ok(
        "POST", f"/v1/parent_segments/{ps}/imports", {"key": KEY, "records": [{"value": "v50"}]}
    )
    assert profile(account, ps, "v50")["segments"] == []  # known, not in the file
