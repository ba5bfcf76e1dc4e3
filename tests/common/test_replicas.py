"""Where `p13n up --replicas N` puts each replica, and the targets that reach them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import ConfigError, Settings, target_addresses
from services.common.replicas import (
    REFUSED_WITHOUT_DATABASE,
    Layout,
    balanced_target,
    is_balanced,
)

DATABASE = {"P13N_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/p13n"}


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **DATABASE, **env})


def test_replicas_without_a_database_url_are_refused_with_the_reason(tmp_path: Path) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError) as refused:
        Layout.of(settings, 2)
    assert str(refused.value) == REFUSED_WITHOUT_DATABASE.format(n=2)
    assert str(refused.value).startswith("--replicas 2 needs P13N_DATABASE_URL")
    # One process per service is the suite as it always was: SQLite is fine.
    assert Layout.of(settings, 1).targets_env() == {}


def test_each_replica_listens_ten_ports_above_the_previous(tmp_path: Path) -> None:
    layout = Layout.of(_settings(tmp_path, P13N_HEALTH_PORT="9100"), 3)
    assert layout.ports == {
        "auth": (50051, 50061, 50071),
        "profile": (50052, 50062, 50072),
        "offers": (50053, 50063, 50073),
    }
    assert layout.replica_env("offers", 2) == {
        "P13N_OFFERS_PORT": "50073",
        "P13N_HEALTH_PORT": "9120",
    }
    # Auth replicas also learn how many they are: each applies 1/N of the data plane's limits.
    assert layout.replica_env("auth", 0) == {
        "P13N_AUTH_PORT": "50051",
        "P13N_AUTH_REPLICAS": "3",
        "P13N_HEALTH_PORT": "9100",
    }


def test_every_child_calls_every_replica_of_the_others(tmp_path: Path) -> None:
    env = Layout.of(_settings(tmp_path), 2).targets_env()
    assert env == {
        "P13N_AUTH_TARGET": "ipv4:127.0.0.1:50051,127.0.0.1:50061",
        "P13N_PROFILE_TARGET": "ipv4:127.0.0.1:50052,127.0.0.1:50062",
        "P13N_OFFERS_TARGET": "ipv4:127.0.0.1:50053,127.0.0.1:50063",
    }
    # A child reading those targets still counts as loopback-only (the benchmark's switch).
    child = Settings.from_env({**env, **DATABASE, "P13N_INTERNAL_TLS": "off"})
    assert child.internal_tls is False
    assert target_addresses(child.profile_target) == ["127.0.0.1:50052", "127.0.0.1:50062"]


def test_internal_tls_off_is_refused_if_one_replica_is_not_on_loopback() -> None:
    env = {"P13N_PROFILE_TARGET": "ipv4:127.0.0.1:50052,10.0.0.2:50062"}
    with pytest.raises(ConfigError, match="P13N_INTERNAL_TLS=off is allowed only"):
        Settings.from_env({**env, "P13N_INTERNAL_TLS": "off"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"P13N_AUTH_PORT": "50051", "P13N_PROFILE_PORT": "50061"},
            "two replicas would share a port",
            id="collide",
        ),
        pytest.param({"P13N_OFFERS_PORT": "65530"}, "would pass 65535", id="overflow"),
        pytest.param(
            {"P13N_AUTH_PORT": "8060"},
            r"a replica would listen on port 8080, P13N_DATA_PORT's",
            id="data-port",
        ),
        pytest.param(
            {"P13N_PROFILE_PORT": "9891"},
            r"port 9901, P13N_ENVOY_ADMIN_PORT's",
            id="envoy-admin-port",
        ),
    ],
)
def test_ports_the_replicas_cannot_have_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Layout.of(_settings(tmp_path, **env), 3)


def test_one_address_is_a_plain_target_and_is_not_balanced() -> None:
    assert balanced_target("127.0.0.1", (50052,)) == "127.0.0.1:50052"
    for one in ("127.0.0.1:50052", "10.96.0.12:50052", "[::1]:50052", "localhost:50052"):
        assert not is_balanced(one), one
    assert is_balanced(balanced_target("127.0.0.1", (50052, 50062)))


@pytest.mark.parametrize(
    "target", ["p13n-profile:50052", "dns:///p13n-profile:50052", "p13n-profile.p13n.svc:50052"]
)
def test_a_dns_name_is_balanced_over_every_address_it_resolves_to(target: str) -> None:
    """A headless Service's name resolves to every ready pod (deploy/): each is a subchannel
    whose readiness (p13n.profile) decides whether it takes calls."""
    assert is_balanced(target)
