"""scripts/preflight: `make test` stops at once, naming the missing package and its install
command, before it creates a venv or runs anything; silent when everything is there.

Each test runs the real script with a PATH of its own: a directory holding stand-ins for
the programs it looks for (it only checks that they are there) and links to the few
commands the script itself runs, so the machine's own packages change nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "preflight"
PROGRAMS = (
    "chromium", "sqlite3", "wrk", "h2load", "npm", "curl", "ip", "iptables-restore", "setpriv",
)  # fmt: skip
# What the script runs besides the programs it looks for.
OWN_COMMANDS = ("cut",)


def _stub(directory: Path, name: str, body: str = "exit 0") -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _path_with(tmp_path: Path, programs: tuple[str, ...], uid: int) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in programs:
        _stub(directory, name)
    for name in OWN_COMMANDS:
        found = shutil.which(name)
        assert found, name
        (directory / name).symlink_to(found)
    _stub(directory, "id", f"echo {uid}")
    return directory


def _run(directory: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    bash = shutil.which("bash")
    assert bash
    # PostgreSQL is not this test's subject: naming a server skips that part.
    environment = {"PATH": str(directory), "P13N_TEST_POSTGRES_URL": "postgresql://x@h/db"}
    started = time.monotonic()
    ran = subprocess.run(
        [bash, str(SCRIPT)], capture_output=True, text=True, check=False, timeout=30,
        env=environment | env,
    )  # fmt: skip
    return ran, time.monotonic() - started


def test_without_chromium_it_stops_at_once_naming_the_package(tmp_path: Path) -> None:
    others = tuple(p for p in PROGRAMS if p != "chromium")
    ran, took = _run(_path_with(tmp_path, others, uid=0), P13N_PREFLIGHT_INSTALL="0")
    assert ran.returncode == 1, ran.stderr
    assert took < 2, took
    assert "(Debian package chromium)" in ran.stderr
    assert "apt-get update && apt-get install -y chromium\n" in ran.stderr
    assert "P13N_PREFLIGHT_INSTALL=0" in ran.stderr
    assert "wrk" not in ran.stderr, "only what is missing is named"


def test_with_everything_there_it_says_nothing(tmp_path: Path) -> None:
    ran, _ = _run(_path_with(tmp_path, PROGRAMS, uid=1000), P13N_PREFLIGHT_INSTALL="0")
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")


def test_not_root_it_names_the_sudo_command(tmp_path: Path) -> None:
    ran, _ = _run(_path_with(tmp_path, ("npm", "curl"), uid=1000))
    assert ran.returncode == 1
    # (ip, iptables-restore and setpriv are also looked for in /sbin, so the machine's own count.)
    assert "sudo apt-get install -y chromium sqlite3 wrk nghttp2-client" in ran.stderr
    assert "Run as root" in ran.stderr


def test_as_root_with_apt_get_it_installs_what_is_missing(tmp_path: Path) -> None:
    others = tuple(p for p in PROGRAMS if p not in ("chromium", "wrk"))
    directory = _path_with(tmp_path, others, uid=0)
    log = tmp_path / "apt-get.log"
    # A stand-in apt-get that records its arguments and "installs" the two programs.
    made = f"{directory}/chromium {directory}/wrk"
    installs = (
        f'[ "$1" = install ] && {shutil.which("touch")} {made} && {shutil.which("chmod")} +x {made}'
    )

    _stub(directory, "apt-get", f'echo "$@" >> {log}\n{installs}\nexit 0')
    ran, _ = _run(directory)
    assert (ran.returncode, ran.stderr) == (0, "")
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium wrk"]


def test_the_ci_and_make_test_use_this_script() -> None:
    root = SCRIPT.parents[1]
    assert "scripts/preflight" in (root / ".ci" / "run").read_text()
    makefile = (root / "Makefile").read_text()
    assert "test: preflight\n" in makefile
    assert os.access(SCRIPT, os.X_OK)
