from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import ConfigError, Settings


def test_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    assert (settings.data_port, settings.admin_port, settings.envoy_admin_port) == (
        8080,
        8081,
        9901,
    )
    assert settings.auth_target == "127.0.0.1:50051"
    assert len(settings.internal_key) == 32
    assert settings.auth_replicas == 1  # one auth process keeps whole budgets


def test_the_default_drain_outlasts_a_default_kubernetes_readiness_period(tmp_path: Path) -> None:
    readiness_period = 10.0  # Kubernetes' default readinessProbe.periodSeconds
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    assert settings.drain_seconds > readiness_period
    assert (
        Settings.from_env({"P13N_DATA_DIR": str(tmp_path), "P13N_DRAIN_SECONDS": "0"}).drain_seconds
        == 0
    )


def test_generated_keys_are_kept_in_the_data_dir(tmp_path: Path) -> None:
    first = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    second = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    assert first.internal_key == second.internal_key
    assert first.secret_key != first.internal_key
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"P13N_DATA_PORT": "http"}, "P13N_DATA_PORT='http' is not a port", id="port-text"
        ),
        pytest.param(
            {"P13N_ADMIN_PORT": "70000"}, "P13N_ADMIN_PORT='70000' is not a port", id="port-range"
        ),
        pytest.param({"P13N_LOG_LEVEL": "LOUD"}, "P13N_LOG_LEVEL='LOUD'", id="log-level"),
        pytest.param({"P13N_SHUTDOWN_GRACE": "-1"}, "must not be negative", id="grace"),
        pytest.param({"P13N_DRAIN_SECONDS": "-0.5"}, "must not be negative", id="drain-negative"),
        pytest.param(
            {"P13N_DRAIN_SECONDS": "15s"},
            "P13N_DRAIN_SECONDS='15s' is not a number",
            id="drain-unit",
        ),
        pytest.param(
            {"P13N_DRAIN_SECONDS": "inf"},
            "P13N_DRAIN_SECONDS='inf' is not a number",
            id="drain-inf",
        ),
        pytest.param(
            {"P13N_SHUTDOWN_GRACE": "nan"},
            "P13N_SHUTDOWN_GRACE='nan' is not a number",
            id="grace-nan",
        ),
        pytest.param(
            {"P13N_AUTH_REPLICAS": "0"},
            "P13N_AUTH_REPLICAS='0' must be a whole number of at least 1",
            id="no-replicas",
        ),
        pytest.param({"P13N_INTERNAL_KEY": "abcd"}, "64 hexadecimal characters", id="short-key"),
        pytest.param({"P13N_SECRET_KEY": "zz" * 32}, "64 hexadecimal characters", id="bad-key"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **env})


def test_each_component_finds_its_certificates_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    assert settings.internal_tls
    assert settings.tls_dir("profile") == tmp_path.resolve() / "pki" / "profile"
    mounted = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), "P13N_TLS_DIR": "/var/run/tls"})
    assert mounted.tls_dir("profile") == Path("/var/run/tls")


def test_internal_tls_may_be_off_only_on_loopback(tmp_path: Path) -> None:
    base = {"P13N_DATA_DIR": str(tmp_path), "P13N_INTERNAL_TLS": "off"}
    assert not Settings.from_env(base).internal_tls
    for name, value in [
        ("P13N_BIND_HOST", "0.0.0.0"),
        ("P13N_PROFILE_TARGET", "p13n-profile:50052"),
        ("P13N_AUTH_TARGET", "10.0.0.5:50051"),
    ]:
        with pytest.raises(ConfigError, match="allowed only when every service binds"):
            Settings.from_env({**base, name: value})
    with pytest.raises(ConfigError, match="use on or off"):
        Settings.from_env({**base, "P13N_INTERNAL_TLS": "no"})
