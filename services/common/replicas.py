"""Several processes of each service on one machine (`p13n up --replicas N`): where each
listens, and the gRPC target that reaches them all.

Replica ``i`` (from 0) of a service listens on the service's port plus ``10 * i`` (its
health port likewise, if it has one): the first replica keeps the port a single process
would have, so ``--replicas 1`` is exactly the suite without the flag, and the three
services' default ports (50051-50053) never meet (50061-50063, 50071-50073 ...).

A service calls the replicas of another through one channel whose target lists every
address (``ipv4:127.0.0.1:50052,127.0.0.1:50062``), balanced with gRPC's ``round_robin``
and its client-side health checking (``healthCheckConfig``) on the callee's readiness
name (``p13n.profile``: ``services.common.readiness``): a replica that reports NOT_SERVING
(draining), or whose connection broke (killed), leaves the rotation at once, and comes
back when its health stream says SERVING again.

On Kubernetes a target is a Service's DNS name (``p13n-profile:50052``), and the services'
Services are headless: the name resolves to every ready pod, so it is balanced the same
way, each pod a subchannel with its own health stream. A single IP address (one process,
or a cluster IP that kube-proxy balances) keeps gRPC's default policy: a health stream on
a cluster IP would judge whichever pod it reached for all of them.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from services.common.config import LIST_SCHEME, ConfigError, Settings, target_addresses
from services.common.readiness import readiness_name

REPLICA_PORT_STEP = 10
SERVICES = ("auth", "profile", "offers")


def balanced_service_config(server: str) -> str:
    """grpc.service_config for a channel to the replicas of component ``server`` (see the
    module docstring): round robin over those whose readiness says SERVING."""
    return json.dumps(
        {
            "loadBalancingConfig": [{"round_robin": {}}],
            "healthCheckConfig": {"serviceName": readiness_name(server)},
        }
    )


REFUSED_WITHOUT_DATABASE = (
    "--replicas {n} needs P13N_DATABASE_URL: the replicas of a service share its data, and "
    "SQLite files cannot be shared by several processes; set it to a PostgreSQL database "
    "(postgresql://user@host:port/database)"
)


def replica_ports(base: int, replicas: int) -> tuple[int, ...]:
    """The ports of ``replicas`` processes of a service whose first port is ``base``."""
    return tuple(base + REPLICA_PORT_STEP * index for index in range(replicas))


def balanced_target(host: str, ports: tuple[int, ...]) -> str:
    """One gRPC target for every replica: a plain ``host:port`` when there is one."""
    if len(ports) == 1:
        return f"{host}:{ports[0]}"
    return LIST_SCHEME + ",".join(f"{host}:{port}" for port in ports)


def is_balanced(target: str) -> bool:
    """Whether ``target`` may reach several replicas (and so wants ``round_robin``): it
    lists several, or it is a DNS name (a headless Service's) other than localhost."""
    addresses = target_addresses(target)
    if len(addresses) > 1:
        return True
    if target.startswith(("unix:", "unix-abstract:")):
        return False
    host = addresses[0].removeprefix("dns:").lstrip("/").rsplit(":", 1)[0]
    if host == "localhost":
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True
    return False


@dataclass(frozen=True)
class Layout:
    """Every replica's ports, for the supervisor, the gateway and the services' targets."""

    host: str
    ports: dict[str, tuple[int, ...]]
    health_ports: tuple[int, ...] | None

    @property
    def replicas(self) -> int:
        return len(self.ports["auth"])

    @classmethod
    def of(cls, settings: Settings, replicas: int) -> Layout:
        """The layout of ``replicas`` processes per service; ConfigError if it cannot run."""
        if replicas < 1:
            raise ConfigError(f"--replicas {replicas}: use a whole number of at least 1")
        if replicas > 1 and settings.database_url is None:
            raise ConfigError(REFUSED_WITHOUT_DATABASE.format(n=replicas))
        bases = {
            "auth": settings.auth_port,
            "profile": settings.profile_port,
            "offers": settings.offers_port,
        }
        ports = {name: replica_ports(base, replicas) for name, base in bases.items()}
        health = (
            None if settings.health_port is None else replica_ports(settings.health_port, replicas)
        )
        layout = cls("127.0.0.1", ports, health)
        layout._check_ports(
            {
                "P13N_DATA_PORT": settings.data_port,
                "P13N_ADMIN_PORT": settings.admin_port,
                "P13N_ENVOY_ADMIN_PORT": settings.envoy_admin_port,
                "P13N_DEMO_PORT": settings.demo_port,
            }
        )
        return layout

    def _check_ports(self, others: dict[str, int]) -> None:
        """``others``: the ports of the suite's other listeners, by their setting."""
        every = [port for ports in self.ports.values() for port in ports]
        every += list(self.health_ports or ())
        for setting, port in others.items():
            if port in every:
                raise ConfigError(
                    f"--replicas {self.replicas}: a replica would listen on port {port}, "
                    f"{setting}'s (each replica listens {REPLICA_PORT_STEP} above the "
                    "previous); move P13N_AUTH_PORT, P13N_PROFILE_PORT, P13N_OFFERS_PORT "
                    f"or {setting}"
                )
        if max(every) > 65535:
            raise ConfigError(
                f"--replicas {self.replicas}: replica ports would pass 65535; "
                "lower P13N_AUTH_PORT, P13N_PROFILE_PORT, P13N_OFFERS_PORT"
            )
        if len(set(every)) != len(every):
            raise ConfigError(
                f"--replicas {self.replicas}: two replicas would share a port (each replica "
                f"listens {REPLICA_PORT_STEP} above the previous); space the P13N_*_PORT "
                "settings apart"
            )

    def target(self, service: str) -> str:
        """The gRPC target that reaches every replica of ``service``."""
        return balanced_target(self.host, self.ports[service])

    def targets_env(self) -> dict[str, str]:
        """``P13N_*_TARGET`` for every child: internal calls balance across the replicas.

        Empty with one replica: the settings' own targets stay as they are.
        """
        if self.replicas == 1:
            return {}
        return {f"P13N_{name.upper()}_TARGET": self.target(name) for name in SERVICES}

    def replica_env(self, service: str, index: int) -> dict[str, str]:
        """The settings that put replica ``index`` of ``service`` on its own ports."""
        env = {f"P13N_{service.upper()}_PORT": str(self.ports[service][index])}
        if service == "auth":
            # Each auth replica applies its share of the data plane's limits, so that N of
            # them together allow what one would (services.auth.directory).
            env["P13N_AUTH_REPLICAS"] = str(self.replicas)
        if self.health_ports is not None:
            env["P13N_HEALTH_PORT"] = str(self.health_ports[index])
        return env
