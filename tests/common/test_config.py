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


def test_the_gateway_timing_log_is_off_unless_a_path_is_named(tmp_path: Path) -> None:
    assert Settings.from_env({"P13N_DATA_DIR": str(tmp_path)}).gateway_timing_log is None
    env = {"P13N_DATA_DIR": str(tmp_path), "P13N_GATEWAY_TIMING_LOG": "timing.jsonl"}
    assert Settings.from_env(env).gateway_timing_log == Path("timing.jsonl").absolute()


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


# Every setting of ours that a kubelet's service-link variable can collide with: a Service
# named p13n-<name> yields P13N_<NAME>_PORT=tcp://<cluster IP>:<first port>.
PORT_SETTINGS = (
    "P13N_AUTH_PORT",
    "P13N_PROFILE_PORT",
    "P13N_OFFERS_PORT",
    "P13N_DATA_PORT",
    "P13N_ADMIN_PORT",
    "P13N_ENVOY_ADMIN_PORT",
    "P13N_DEMO_PORT",
    "P13N_HEALTH_PORT",
)


def kubelet_service_links(service: str, ip: str, ports: dict[str, int]) -> dict[str, str]:
    """The variables the kubelet injects for a Service with a cluster IP
    (kubernetes/pkg/kubelet/envvars: FromServices), ``ports`` by their names."""
    prefix = service.upper().replace("-", "_")
    first = next(iter(ports.values()))
    env = {
        f"{prefix}_SERVICE_HOST": ip,
        f"{prefix}_SERVICE_PORT": str(first),
        f"{prefix}_PORT": f"tcp://{ip}:{first}",
    }
    for name, port in ports.items():
        env[f"{prefix}_SERVICE_PORT_{name.upper().replace('-', '_')}"] = str(port)
        link = f"{prefix}_PORT_{port}_TCP"
        env |= {
            link: f"tcp://{ip}:{port}",
            f"{link}_PROTO": "tcp",
            f"{link}_PORT": str(port),
            f"{link}_ADDR": ip,
        }
    return env


@pytest.mark.parametrize("setting", PORT_SETTINGS)
def test_a_service_link_in_a_port_setting_is_named_as_one(tmp_path: Path, setting: str) -> None:
    env = {"P13N_DATA_DIR": str(tmp_path), setting: "tcp://10.0.0.11:50051"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == (
        f"{setting}='tcp://10.0.0.11:50051' looks like a Kubernetes service link, not a port "
        "number: set enableServiceLinks: false on the pod (deploy/ does) or set "
        f"{setting} to a number 0-65535"
    )


def test_the_service_links_of_the_suites_services_are_recognized(tmp_path: Path) -> None:
    """The crash of issue 18: the kubelet's variables for p13n-auth stopped every service."""
    links = kubelet_service_links("p13n-auth", "10.0.0.11", {"grpc": 50051, "health": 8086})
    with pytest.raises(ConfigError, match=r"P13N_AUTH_PORT='tcp://10\.0\.0\.11:50051' looks like"):
        Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **links})


def test_service_links_that_meet_no_setting_are_ignored(tmp_path: Path) -> None:
    """The other shapes (…_SERVICE_HOST, …_SERVICE_PORT…, …_PORT_<n>_TCP…) name no setting:
    with the colliding P13N_<NAME>_PORT given a number, as a pod spec's env wins, the
    service starts."""
    env = {"P13N_DATA_DIR": str(tmp_path)}
    for service, ports in [
        ("p13n-auth", {"grpc": 50051, "health": 8086}),
        ("p13n-profile", {"grpc": 50052, "health": 8086}),
        ("p13n-offers", {"grpc": 50053, "health": 8086}),
        ("p13n-gateway", {"http": 80}),
        ("p13n-gateway-admin", {"admin-api": 8081}),
        ("p13n-data", {"http": 80}),
        ("p13n-health", {"http": 80}),
        ("p13n-database", {"postgres": 5432}),
    ]:
        env |= kubelet_service_links(service, "10.0.0.11", ports)
    given = {s: "0" if s == "P13N_HEALTH_PORT" else "50051" for s in PORT_SETTINGS}
    settings = Settings.from_env(env | given)
    assert settings.auth_port == 50051
    assert settings.health_port == 0
    assert settings.database_url is None


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("P13N_AUTH_TARGET", "p13n-auth"),
        ("P13N_PROFILE_TARGET", "p13n-profile:grpc"),
        ("P13N_OFFERS_TARGET", "p13n-offers:70000"),
        ("P13N_OFFERS_TARGET", ""),
        ("P13N_AUTH_TARGET", "p13n-auth: 50051"),
        ("P13N_AUTH_TARGET", ":50051"),
    ],
)
def test_a_malformed_target_is_named_with_the_expected_form(
    tmp_path: Path, setting: str, value: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"P13N_DATA_DIR": str(tmp_path), setting: value})
    assert str(caught.value) == (
        f"{setting}={value!r} is not a gRPC target: use host:port, e.g. p13n-auth:50051"
    )


@pytest.mark.parametrize(
    "value",
    [
        "p13n-auth:50051",
        "10.0.0.5:50051",
        "[::1]:50051",
        "dns:///p13n-auth:50051",
        "ipv4:1.2.3.4:5",
    ],
)
def test_well_formed_targets_are_kept(tmp_path: Path, value: str) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), "P13N_AUTH_TARGET": value})
    assert settings.auth_target == value


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"P13N_DEMO_PORT": "-1"},
            "P13N_DEMO_PORT='-1' is not a port number: use a number 0-65535",
        ),
        (
            {"P13N_HEALTH_PORT": ""},
            "P13N_HEALTH_PORT='' is not a port number: use a number 0-65535",
        ),
        (
            {"P13N_DRAIN_SECONDS": "15s"},
            "P13N_DRAIN_SECONDS='15s' is not a number of seconds: use e.g. 15 or 0.5",
        ),
        (
            {"P13N_SHUTDOWN_GRACE": "-1"},
            "P13N_SHUTDOWN_GRACE='-1' must not be negative: use 0 or more seconds",
        ),
    ],
)
def test_messages_say_the_expected_form(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"P13N_DATA_DIR": str(tmp_path), **env})
    assert str(caught.value) == message
