"""The real suite as a user runs it: ``p13n up`` in a subprocess on free ports.

The supervisor's children are found through /proc by the data directory in their
environment, then told apart by their command line, so the bench can read each one's CPU
and memory. ``stop()`` sends SIGTERM to ``p13n up``, which stops its children in order.

A suite runs one process per service (``PROCESS_NAMES``) or, with ``single_process``,
``p13n up --single-process``: auth, profile and offers in one process (``services.single``),
so its roles are ``SINGLE_PROCESS_NAMES``; everything that reads roles takes them from
``Suite.roles``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import envoy_timing, gcpause
from services.common.ports import free_port

PROCESS_NAMES = ("envoy", "auth", "profile", "offers")
SINGLE_PROCESS_NAMES = ("envoy", "single")
# The setting `p13n up` reads for --single-process: the suite's mode is chosen here, never
# inherited from the environment the bench runs in.
SINGLE_PROCESS_VARIABLE = "P13N_SINGLE_PROCESS"


def venv_bin(name: str) -> str:
    """A console script installed beside this interpreter (p13n, envoy)."""
    return str(Path(sys.executable).with_name(name))


def role_of(cmdline: bytes) -> str | None:
    """The suite role of a process by its command line (NUL-separated), if it has one."""
    argv = cmdline.split(b"\0")
    for role in ("auth", "profile", "offers", "single"):
        if f"services.{role}".encode() in argv:
            return role
    if argv and argv[0].endswith(b"envoy"):
        return "envoy"
    return None


def processes_of(data_dir: Path) -> dict[str, list[int]]:
    """The suite's processes by role, found by ``P13N_DATA_DIR`` in their environment.

    A role may have several processes (a service run as workers sharing a port).
    """
    marker = f"P13N_DATA_DIR={data_dir}".encode()
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            role = role_of((entry / "cmdline").read_bytes())
        except OSError:
            continue
        if role:
            found.setdefault(role, []).append(int(entry.name))
    return found


UNLIMITED_ADDRESS = {
    "P13N_GATEWAY_REQUESTS_PER_SECOND": "1000000",
    "P13N_GATEWAY_BURST": "1000000",
}


@dataclass
class Suite:
    """``p13n up`` on ``data_dir`` with every port free and chosen here.

    ``replicas`` above 1 runs ``p13n up --replicas N`` (it needs ``P13N_DATABASE_URL`` in
    ``extra_env``): N processes of each service behind the one Envoy.

    ``single_process`` runs ``p13n up --single-process``: auth, profile and offers as one
    process (role ``single``).

    ``records``, when set, is where every Python process of the suite records its collector
    pauses, event-loop lag and writer batches (``bench/gcpause``), and Envoy each request's
    timings (``bench/envoy_timing.py``); the bench's suites set it.
    """

    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1
    records: Path | None = None
    single_process: bool = False
    ports: dict[str, int] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    _process: subprocess.Popen[str] | None = None
    _reader: threading.Thread | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        """The suite's processes by role, as ``pids()`` finds them."""
        return SINGLE_PROCESS_NAMES if self.single_process else PROCESS_NAMES

    @property
    def data_port(self) -> int:
        return self.ports["P13N_DATA_PORT"]

    @property
    def admin_port(self) -> int:
        return self.ports["P13N_ADMIN_PORT"]

    @property
    def auth_port(self) -> int:
        return self.ports["P13N_AUTH_PORT"]

    def env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if k != SINGLE_PROCESS_VARIABLE}
        return {
            **inherited,
            "P13N_DATA_DIR": str(self.data_dir),
            "P13N_LOG_LEVEL": "WARNING",
            # The bench's load comes from one address standing for many clients: the
            # gateway's per-address limit would measure itself, not the suite. The
            # capacity runs (bench/capacity.py) put the production limit back.
            **UNLIMITED_ADDRESS,
            **{k: str(v) for k, v in self.ports.items()},
            **self.extra_env,
            **self._hook_env(),
        }

    def _hook_env(self) -> dict[str, str]:
        if self.records is None:
            return {}
        # First on the path; another hook in extra_env (bench/sqlcount) is chained behind.
        hook = gcpause.env(self.records, self.extra_env.get("PYTHONPATH"))
        # And Envoy's own timing of every request, beside the processes' records.
        return {**hook, "P13N_GATEWAY_TIMING_LOG": str(envoy_timing.log_path(self.records))}

    def start(self, timeout: float = 90.0) -> None:
        # A service's port, and those of its other replicas (each 10 above the previous).
        for name in ("P13N_AUTH_PORT", "P13N_PROFILE_PORT", "P13N_OFFERS_PORT"):
            self.ports[name] = free_port(self.replicas)
        for name in (
            "P13N_DATA_PORT",
            "P13N_ADMIN_PORT",
            "P13N_ENVOY_ADMIN_PORT",
            "P13N_DEMO_PORT",
        ):
            self.ports[name] = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        replicas = ["--replicas", str(self.replicas)] if self.replicas > 1 else []
        mode = ["--single-process"] if self.single_process else []
        self._process = subprocess.Popen(
            [venv_bin("p13n"), "up", *replicas, *mode],
            env=self.env(),
            # Not the caller's directory: a service started with ``python -m`` puts its working
            # directory first on the path, and a checkout there would shadow ``PYTHONPATH``
            # (bench/ab.py runs one suite on an older checkout that way).
            cwd=self.data_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()
        self._reader = threading.Thread(target=self._drain, args=(ready,), daemon=True)
        self._reader.start()
        if not ready.wait(timeout) or self._process.poll() is not None:
            self.stop()
            raise RuntimeError("p13n up did not come up:\n" + "".join(self.output[-40:]))

    def _drain(self, ready: threading.Event) -> None:
        # Keep reading so the suite never blocks on a full pipe; keep the tail for errors.
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)
            del self.output[:-200]
            if "p13n is up" in line:
                ready.set()
        ready.set()

    def pids(self) -> dict[str, list[int]]:
        found = processes_of(self.data_dir)
        missing = [name for name in self.roles if name not in found]
        if missing:
            raise RuntimeError(f"suite processes not found: {missing}")
        return found

    def internal_key(self) -> bytes:
        """The key services sign identities with (``p13n up`` made it in the data dir)."""
        return bytes.fromhex((self.data_dir / "internal.key").read_text().strip())

    def run_cli(self, *args: str) -> str:
        """Runs a ``p13n`` operator command against this suite's data directory."""
        done = subprocess.run(
            [venv_bin("p13n"), *args], env=self.env(), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"p13n {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        # The pipe is ours to close, once the reader has seen its end (every child gone).
        if self._reader is not None:
            self._reader.join(10)
        if self._process.stdout is not None and not self._reader_alive():
            self._process.stdout.close()

    def _reader_alive(self) -> bool:
        return self._reader is not None and self._reader.is_alive()


def wait_for(check: object, timeout: float, what: str) -> None:
    """Polls ``check()`` until it is true."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not within {timeout:.0f}s")
