"""Typed configuration from environment variables, failing fast with a clear message.

Every service reads the same ``Settings``: on one machine the suite shares ports and a data
directory; on Kubernetes each Deployment sets the targets of the others.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# How long a stopping service keeps serving after it reports NOT_SERVING, so that whoever
# balances across it stops sending first. Two signals tell a balancer: Kubernetes drops a
# deleted pod from its Service's endpoints at once, and that change reaches kube-proxy and
# the gateway's DNS a few seconds later; a balancer that polls health (a readiness probe
# with failureThreshold 1, Envoy's active health check) sees NOT_SERVING within one
# interval, 10 s by Kubernetes' default. 15 s outlasts either. A readiness probe that must
# fail several times before the pod is unready needs more: failureThreshold times
# periodSeconds, which deploy/*.yaml keep below their drain (tests/common/test_lifecycle.py
# checks it). ``p13n up`` sets 0: it stops Envoy before the services (services/supervisor.py).
DEFAULT_DRAIN_SECONDS = 15.0


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and what is allowed."""


# The kubelet gives every container, for each Service of its namespace, Docker-link
# variables: a Service named p13n-auth yields P13N_AUTH_PORT=tcp://10.0.0.11:50051,
# P13N_AUTH_PORT_50051_TCP=..., P13N_AUTH_SERVICE_HOST=... Of these only the first shape
# meets a setting of ours (every P13N_<NAME>_PORT), and read as a port it would stop the
# service; recognized, the message says where it came from and what to change.
_SERVICE_LINK = re.compile(r"(tcp|udp|sctp)://\S+:\d+")


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if _SERVICE_LINK.fullmatch(raw.strip()):
        raise ConfigError(
            f"{name}={raw!r} looks like a Kubernetes service link, not a port number: set "
            f"enableServiceLinks: false on the pod (deploy/ does) or set {name} to a number "
            "0-65535"
        )
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name}={raw!r} is not a port number: use a number 0-65535")
    return port


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, str(default))
    expected = f"{name}={raw!r} is not a number of seconds: use e.g. 15 or 0.5"
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(expected) from None
    # "nan" and "inf" parse as floats; a delay of either would never end.
    if not math.isfinite(value):
        raise ConfigError(expected)
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative: use 0 or more seconds")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw!r} must be a whole number of at least 1")
    return int(raw)


INTERNAL_KEY = "P13N_INTERNAL_KEY"
SECRET_KEY = "P13N_SECRET_KEY"
_KEY_FILES = {INTERNAL_KEY: "internal.key", SECRET_KEY: "secret.key"}


def _hex_key(env: Mapping[str, str], name: str) -> bytes | None:
    raw = env.get(name)
    if raw is None:
        return None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise ConfigError(f"{name} must be 64 hexadecimal characters (32 bytes)") from None
    if len(key) != 32:
        raise ConfigError(f"{name} must be 64 hexadecimal characters (32 bytes)")
    return key


@dataclass
class Keys:
    """A process's two master keys, each read (or made) the first time it is used.

    A key comes from hex in the environment, else from (or created in) the data dir. Keys
    never come from a default in code: an installation that sets nothing gets its own random
    key, kept beside its data so restarts keep working. Read lazily so that a process holds
    only the keys it uses: the profile and offers services never touch ``P13N_SECRET_KEY``,
    and ``p13n up`` gives them none (services/supervisor.py).
    """

    data_dir: Path
    given: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str], data_dir: Path) -> Keys:
        # Malformed hex fails at start, not at first use.
        given = {name: _hex_key(env, name) for name in _KEY_FILES}
        return cls(data_dir, {name: key for name, key in given.items() if key is not None})

    def get(self, name: str) -> bytes:
        if name not in self.given:
            self.given[name] = self._from_file(_KEY_FILES[name])
        return self.given[name]

    def existing(self, name: str) -> bytes | None:
        """The key if the environment gives it or its file exists; None, never a new one.

        For the operator's commands: a key they made would be a stray file and, on a pod
        other than the auth service's, not the key its database was made with.
        """
        if name not in self.given:
            path = self.path(name)
            if not path.is_file():
                return None
            self.given[name] = bytes.fromhex(path.read_text().strip())
        return self.given[name]

    def path(self, name: str) -> Path:
        """Where the key is kept when the environment does not give it."""
        return self.data_dir / _KEY_FILES[name]

    def _from_file(self, filename: str) -> bytes:
        path = self.data_dir / filename
        if not path.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Written whole, then linked into place: a process starting beside this one
            # reads either no file or the whole key, and the first to link wins.
            temporary = path.with_name(f".{filename}.{os.getpid()}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        return bytes.fromhex(path.read_text().strip())


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# gRPC's scheme for a list of addresses: `p13n up --replicas N` names every replica of a
# service in one target (services.common.replicas).
LIST_SCHEME = "ipv4:"


# gRPC's name resolvers a target may name explicitly (``dns:///p13n-auth:50051``).
_TARGET_SCHEMES = ("ipv4:", "ipv6:", "dns:", "unix:", "unix-abstract:")


def _target(env: Mapping[str, str], name: str, default: str) -> str:
    """A gRPC target: ``host:port``, or one of gRPC's schemes (a list of replicas)."""
    raw = env.get(name, default)
    expected = f"{name}={raw!r} is not a gRPC target: use host:port, e.g. p13n-auth:50051"
    if not raw or any(c.isspace() for c in raw):
        raise ConfigError(expected)
    if raw.startswith(_TARGET_SCHEMES):
        return raw
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ConfigError(expected)
    return raw


def target_addresses(target: str) -> list[str]:
    """The ``host:port`` addresses a target names: several for a list of replicas."""
    if target.startswith(LIST_SCHEME):
        return target.removeprefix(LIST_SCHEME).split(",")
    return [target]


def _internal_tls(env: Mapping[str, str], bind_host: str, targets: Iterable[str]) -> bool:
    """Whether internal hops use mutual TLS: always, except a loopback-only comparison.

    ``P13N_INTERNAL_TLS=off`` exists for the benchmark to measure what mutual TLS costs.
    It is refused unless this process listens on loopback and reaches every other service
    on loopback: then only processes on this machine reach the ports in the first place,
    and a deployment cannot be left open by a forgotten variable.
    """
    raw = env.get("P13N_INTERNAL_TLS", "on")
    if raw not in ("on", "off"):
        raise ConfigError(f"P13N_INTERNAL_TLS={raw!r}: use on or off")
    if raw == "on":
        return True
    addresses = [address for target in targets for address in target_addresses(target)]
    hosts = [bind_host, *(address.rsplit(":", 1)[0] for address in addresses)]
    if any(host not in _LOOPBACK_HOSTS for host in hosts):
        raise ConfigError(
            "P13N_INTERNAL_TLS=off is allowed only when every service binds and is reached "
            "on loopback (P13N_BIND_HOST and the P13N_*_TARGET settings)"
        )
    return False


def _database_url(env: Mapping[str, str]) -> str | None:
    url = env.get("P13N_DATABASE_URL", "").strip()
    if not url:
        return None
    if urlsplit(url).scheme not in {"postgresql", "postgres"}:
        # The URL may carry a password: the message names the setting, never the value.
        raise ConfigError("P13N_DATABASE_URL: use postgresql://user@host:port/database")
    return url


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw).absolute() if raw else None


def _schema_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get("P13N_DATABASE_SCHEMA_PREFIX", "p13n_")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", prefix):
        raise ConfigError(
            f"P13N_DATABASE_SCHEMA_PREFIX={prefix!r}: use lowercase letters, digits and _"
        )
    return prefix


@dataclass(frozen=True)
class Settings:
    """Everything a p13n process needs to know about its surroundings."""

    data_dir: Path
    bind_host: str
    auth_port: int
    profile_port: int
    offers_port: int
    data_port: int
    admin_port: int
    envoy_admin_port: int
    demo_port: int
    auth_target: str
    profile_target: str
    offers_target: str
    log_level: str
    shutdown_grace: float
    drain_seconds: float
    keys: Keys = field(compare=False, repr=False)
    # Data-plane requests per client address: sustained rate per second and burst.
    address_rate: int = 5000
    address_burst: int = 10000
    # How many auth processes share the per-process limits (rates and failure budgets):
    # each applies 1/N of every budget, so N replicas together allow what one process would.
    auth_replicas: int = 1
    # Where the components' certificate directories are (``services.common.pki``), and the
    # one directory ``P13N_TLS_DIR`` names for this process (a Kubernetes Secret's mount).
    pki_dir: Path = Path("var/pki")
    tls_dir_override: Path | None = None
    # Mutual TLS on every internal hop; off only for the benchmark's comparison on loopback.
    internal_tls: bool = True
    # A plaintext port answering only grpc.health.v1, for Kubernetes' probes (None: none).
    health_port: int | None = None
    # PostgreSQL instead of the embedded SQLite files (``services.common.postgres``): the
    # database's URL, and the prefix of the services' schema names in it.
    database_url: str | None = field(default=None, repr=False)
    database_schema_prefix: str = "p13n_"
    # Where the gateway writes each data-plane request's timings (gateway/timing_log.py).
    gateway_timing_log: Path | None = None

    def database_schema(self, service: str) -> str:
        """The PostgreSQL schema that holds ``service``'s tables."""
        return f"{self.database_schema_prefix}{service}"

    @property
    def internal_key(self) -> bytes:
        """Signs and verifies identities between components: every service uses it."""
        return self.keys.get(INTERNAL_KEY)

    @property
    def secret_key(self) -> bytes:
        """Derives the keys of stored credentials: the auth service and the CLI use it."""
        return self.keys.get(SECRET_KEY)

    @property
    def browser_socket(self) -> Path:
        """Where the single-process mode takes the browser's events from the gateway (a Unix
        socket in the owner-only data directory: services/auth/browser_socket.py)."""
        return self.data_dir / "browser.sock"

    def tls_dir(self, component: str) -> Path:
        """The directory holding ``component``'s tls.crt, tls.key and ca.crt."""
        return self.tls_dir_override or self.pki_dir / component

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("P13N_DATA_DIR", "./var")).resolve()
        auth_port = _port(env, "P13N_AUTH_PORT", 50051)
        profile_port = _port(env, "P13N_PROFILE_PORT", 50052)
        offers_port = _port(env, "P13N_OFFERS_PORT", 50053)
        log_level = env.get("P13N_LOG_LEVEL", "INFO").upper()
        bind_host = env.get("P13N_BIND_HOST", "127.0.0.1")
        targets = {
            name: _target(env, f"P13N_{name.upper()}_TARGET", f"127.0.0.1:{port}")
            for name, port in (
                ("auth", auth_port),
                ("profile", profile_port),
                ("offers", offers_port),
            )
        }
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"P13N_LOG_LEVEL={log_level!r}: use DEBUG, INFO, WARNING or ERROR")
        return cls(
            data_dir=data_dir,
            bind_host=bind_host,
            auth_port=auth_port,
            profile_port=profile_port,
            offers_port=offers_port,
            data_port=_port(env, "P13N_DATA_PORT", 8080),
            admin_port=_port(env, "P13N_ADMIN_PORT", 8081),
            envoy_admin_port=_port(env, "P13N_ENVOY_ADMIN_PORT", 9901),
            demo_port=_port(env, "P13N_DEMO_PORT", 8000),
            auth_target=targets["auth"],
            profile_target=targets["profile"],
            offers_target=targets["offers"],
            log_level=log_level,
            shutdown_grace=_seconds(env, "P13N_SHUTDOWN_GRACE", 5.0),
            drain_seconds=_seconds(env, "P13N_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS),
            keys=Keys.from_env(env, data_dir),
            address_rate=_count(env, "P13N_ADDRESS_RATE", 5000),
            address_burst=_count(env, "P13N_ADDRESS_BURST", 10000),
            auth_replicas=_count(env, "P13N_AUTH_REPLICAS", 1),
            pki_dir=data_dir / "pki",
            tls_dir_override=_path(env, "P13N_TLS_DIR"),
            internal_tls=_internal_tls(env, bind_host, targets.values()),
            health_port=_port(env, "P13N_HEALTH_PORT", 0) if "P13N_HEALTH_PORT" in env else None,
            database_url=_database_url(env),
            database_schema_prefix=_schema_prefix(env),
            gateway_timing_log=_path(env, "P13N_GATEWAY_TIMING_LOG"),
        )
