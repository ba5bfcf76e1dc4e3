"""The first steps from another working directory while `p13n up` runs (issue 15).

`p13n bootstrap` run elsewhere used to make a `./var/auth.db` of its own there and print a
key that got 401 from the running suite. Now the operator's commands act on the running
suite's data directory by default and say so; pointed at a directory with no auth database
they refuse, naming it and the running suite's; with `--init` they make one there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.admin import PASSWORD
from support.http import Response, request
from support.suite import Suite, suite_env

from services.common.running import records_dir


def _records() -> Path:
    directory = records_dir()
    assert directory is not None
    return directory


P13N = str(Path(sys.executable).with_name("p13n"))
FLAG = "eng-lc-realtime-personalization-m2-1"


@dataclass(frozen=True)
class Up:
    """A real `p13n up` whose keys are made in its data directory, as `make up` runs it."""

    data_dir: Path
    env: dict[str, str]
    admin_port: int


def _without_suite_settings(env: dict[str, str]) -> dict[str, str]:
    """The environment of a shell that set nothing for p13n (only the test's state dir)."""
    return {k: v for k, v in env.items() if not k.startswith("P13N_")}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    data_dir = tmp_path_factory.mktemp("suite") / "var"
    env = {**os.environ, **suite_env(data_dir)}
    for key in ("P13N_SECRET_KEY", "P13N_INTERNAL_KEY", "P13N_DATABASE_URL"):
        env.pop(key, None)
    process = subprocess.Popen(
        [P13N, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "p13n is up" in line or not line:
                break
        assert any("p13n is up" in line for line in lines), "".join(lines)
        yield Up(data_dir, env, int(env["P13N_ADMIN_PORT"]))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        assert process.stdout is not None
        process.stdout.close()
    # A clean stop removes the suite's record.
    assert list(_records().glob("*.json")) == []


def _p13n(up: Up, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [P13N, *args],
        cwd=cwd,
        env={**_without_suite_settings(up.env), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _bootstrap(
    up: Up, cwd: Path, email: str, *more: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return _p13n(
        up,
        cwd,
        "bootstrap",
        "--email",
        email,
        "--password",
        PASSWORD,
        "--account",
        email.split("@")[0],
        "--json",
        *more,
        **env,
    )


def _me(admin_port: int, key: str) -> Response:
    deadline = time.monotonic() + 5  # the running auth service polls its store every second
    while True:
        reply = request("GET", admin_port, "/v1/me", headers={"authorization": f"TD1 {key}"})
        if reply.status == 200 or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def test_the_suite_is_recorded_without_secrets(up: Up) -> None:
    [record] = _records().glob("*.json")
    recorded = json.loads(record.read_text())
    assert recorded["data_dir"] == str(up.data_dir)
    assert recorded["admin_port"] == up.admin_port
    assert recorded["postgresql"] is False
    assert oct(record.stat().st_mode & 0o777) == "0o600"


def test_bootstrap_from_another_directory_acts_on_the_running_suite(up: Up, tmp_path: Path) -> None:
    run = _bootstrap(up, tmp_path, "elsewhere@first.example")
    assert run.returncode == 0, run.stderr
    assert run.stderr == f"p13n: data directory {up.data_dir} (the running suite's)\n"
    created = json.loads(run.stdout)
    me = _me(up.admin_port, created["api_key"])
    assert me.status == 200, me.body
    assert me.json()["account_id"] == created["account_id"]
    assert list(tmp_path.iterdir()) == []  # no ./var of its own
    flags = _p13n(up, tmp_path, "flags", "set", "--account", created["account_id"], f"{FLAG}=on")
    assert flags.returncode == 0, flags.stderr
    assert flags.stderr == f"p13n: data directory {up.data_dir} (the running suite's)\n"
    assert FLAG in _me(up.admin_port, created["api_key"]).json()["flags"]


def test_bootstrap_pointed_elsewhere_is_refused_naming_both_directories(
    up: Up, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    run = _bootstrap(up, tmp_path, "refused@first.example", P13N_DATA_DIR=str(other))
    assert run.returncode == 1
    assert run.stdout == ""
    announced, refusal = run.stderr.split("\n", 1)
    assert announced == f"p13n: data directory {other} (P13N_DATA_DIR)"
    assert refusal.startswith(f"p13n bootstrap: no auth database at {other / 'auth.db'}: ")
    assert "`kubectl exec deploy/p13n-auth -- p13n bootstrap ...`" in refusal
    assert (f"the running suite keeps its data in {up.data_dir} (p13n up, pid ") in refusal
    assert f"set P13N_DATA_DIR={up.data_dir} to act on it" in refusal
    assert f"`p13n bootstrap --init ...` creates a new auth database in {other}" in refusal
    assert refusal.endswith("; nothing was created\n")
    assert not other.exists()


def test_bootstrap_init_creates_an_auth_database_where_it_names_and_the_account_works(
    up: Up, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    run = _bootstrap(up, tmp_path, "init@first.example", "--init", P13N_DATA_DIR=str(other))
    assert run.returncode == 0, run.stderr
    assert run.stderr == (
        f"p13n: data directory {other} (P13N_DATA_DIR)\n"
        f"p13n bootstrap: created the auth database in {other}\n"
    )
    created = json.loads(run.stdout)
    assert {p.name for p in other.iterdir()} >= {"auth.db", "secret.key"}
    assert oct((other / "secret.key").stat().st_mode & 0o777) == "0o600"
    # The running suite does not know it (another directory) ...
    unknown = request(
        "GET", up.admin_port, "/v1/me", headers={"authorization": f"TD1 {created['api_key']}"}
    )
    assert unknown.status == 401, unknown.body
    # ... a suite started on that directory, with the key --init made, does.
    key = (other / "secret.key").read_text().strip()
    suite = Suite(other, {"P13N_SECRET_KEY": key})
    suite.start()
    try:
        me = _me(suite.admin_port, created["api_key"])
        assert me.status == 200, me.body
        assert me.json()["account_id"] == created["account_id"]
    finally:
        suite.close()
    # Run again, --init leaves the database it made as it is and adds the account.
    again = _bootstrap(up, tmp_path, "again@first.example", "--init", P13N_DATA_DIR=str(other))
    assert again.returncode == 0, again.stderr
    assert "created the auth database" not in again.stderr
    assert int(json.loads(again.stdout)["account_id"]) > int(created["account_id"])
