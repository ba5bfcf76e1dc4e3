"""What another local user or a compromised child could read after `p13n up --demo`.

The data directory is 0700 and every database (with its -wal and -shm), key and the demo's
state 0600, though `p13n up` ran under the usual umask 0o022; and a child's environment
holds only the master keys it uses: Envoy's and the demo shop's none.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.ports import free_port
from support.suite import single_process, suite_env

START_TIMEOUT = 90.0
KEY_NAMES = (b"P13N_INTERNAL_KEY", b"P13N_SECRET_KEY")


@contextmanager
def _up_demo(env: dict[str, str]) -> Iterator[None]:
    p13n = str(Path(sys.executable).with_name("p13n"))
    previous = os.umask(0o022)  # the child inherits the umask most shells have
    try:
        up = subprocess.Popen(
            [p13n, "up", "--demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
    finally:
        os.umask(previous)
    assert up.stdout is not None
    try:
        printed: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT
        while "p13n is up" not in (line := up.stdout.readline()):
            assert line, "".join(printed)
            assert time.monotonic() < deadline, "".join(printed)
            printed.append(line)
        yield
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(30)
        up.stdout.close()
    assert code == 0


def _children(data_dir: Path) -> dict[str, bytes]:
    """Each child of the suite (found by its data directory) by role: its environment."""
    marker = f"P13N_DATA_DIR={data_dir}".encode()
    roles = {b"services.auth": "auth", b"services.profile": "profile",
             b"services.offers": "offers", b"services.single": "single",
             b"services.demo": "demo-shop"}  # fmt: skip
    found: dict[str, bytes] = {}
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker not in environ.split(b"\0") or b"up" in argv:
            continue
        role = (
            "envoy" if argv[0].endswith(b"envoy") else roles.get(argv[2] if len(argv) > 2 else b"")
        )
        if role is not None:
            found[role] = environ
    return found


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, bytes]]]:
    data_dir = tmp_path_factory.mktemp("up") / "var"
    env = {**os.environ, **suite_env(data_dir), "P13N_DEMO_PORT": str(free_port())}
    # No key in our environment: `p13n up` makes both in the data directory, as for a user.
    for name in ("P13N_INTERNAL_KEY", "P13N_SECRET_KEY"):
        env.pop(name)
    with _up_demo(env):
        yield data_dir, _children(data_dir)


def test_the_data_dir_and_every_secret_file_in_it_are_owner_only(
    up: tuple[Path, dict[str, bytes]],
) -> None:
    data_dir, _ = up
    modes = {
        str(path.relative_to(data_dir)): stat.S_IMODE(path.stat().st_mode)
        for path in [data_dir, *data_dir.rglob("*")]
        if path.is_dir() or not path.name.endswith((".crt", "envoy.json"))
    }
    for name in ("auth.db", "profile.db", "offers.db"):
        assert {name, f"{name}-wal", f"{name}-shm"} <= modes.keys(), sorted(modes)
    assert {"secret.key", "internal.key", "demo.json", "demo-shop.secret", "pki/ca/ca.key"} <= (
        modes.keys()
    )
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}


def _held(environ: bytes, secrets: dict[str, bytes]) -> list[str]:
    # Names only: a failure must not print a process's environment into the test log.
    return [name for name, value in secrets.items() if value in environ]


def test_envoy_and_the_demo_shop_hold_no_master_key(up: tuple[Path, dict[str, bytes]]) -> None:
    data_dir, children = up
    searched = {
        "internal key": (data_dir / "internal.key").read_bytes().strip(),
        "secret key": (data_dir / "secret.key").read_bytes().strip(),
        **{name.decode(): name for name in KEY_NAMES},
    }
    held = {role: _held(environ, searched) for role, environ in children.items()}
    # The search finds a key where one is: auth holds both, the others the internal key.
    # `p13n up` reads P13N_SINGLE_PROCESS as the run sets it: then auth, profile and offers
    # are one process, which holds auth's.
    services = (
        {"single": list(searched)}
        if single_process()
        else {
            "auth": list(searched),
            "profile": ["internal key", "P13N_INTERNAL_KEY"],
            "offers": ["internal key", "P13N_INTERNAL_KEY"],
        }
    )
    assert held == {**services, "envoy": [], "demo-shop": []}
