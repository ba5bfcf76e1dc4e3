"""The gateway's admission limits: parsed, checked against the descriptor limit, rendered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.suite import suite_env

from gateway.capacity import UPSTREAM_MARGIN, Capacity, CapacityError
from gateway.render import GatewayConfig, Upstream, build
from services.common.config import Settings
from services.supervisor import build_children, up

LOCAL = GatewayConfig(
    bind_host="127.0.0.1",
    data_port=8080,
    admin_port=8081,
    envoy_admin_port=9901,
    auth=(Upstream("127.0.0.1", 50051),),
    profile=(Upstream("127.0.0.1", 50052),),
    offers=(Upstream("127.0.0.1", 50053),),
    capacity=Capacity(max_connections=1234, admin_connections=56, requests_per_second=70),
)


def _listener(config: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        x for x in config["static_resources"]["listeners"] if x["name"] == name
    ]
    return found[0]


def _http_filters(listener: dict[str, Any]) -> list[str]:
    manager = listener["filter_chains"][0]["filters"][-1]["typed_config"]
    return [f["name"] for f in manager["http_filters"]]


def test_limits_come_from_the_environment() -> None:
    env = {"P13N_GATEWAY_MAX_CONNECTIONS": "5000", "P13N_GATEWAY_REQUESTS_PER_SECOND": "7"}
    capacity = Capacity.from_env(env)
    assert (capacity.max_connections, capacity.requests_per_second) == (5000, 7)
    assert capacity.admin_connections == Capacity().admin_connections


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("many", "P13N_GATEWAY_BURST='many' is not a whole number", id="word"),
        pytest.param("0", "P13N_GATEWAY_BURST='0' must be at least 1", id="zero"),
    ],
)
def test_a_bad_limit_is_refused_by_name(raw: str, message: str) -> None:
    with pytest.raises(CapacityError, match=message):
        Capacity.from_env({"P13N_GATEWAY_BURST": raw})


def test_the_default_limits_fit_a_machine_with_20000_descriptors() -> None:
    Capacity().check_fits(20000)


def test_limits_beyond_the_descriptor_limit_are_refused_with_the_way_out() -> None:
    capacity = Capacity(max_connections=50000, admin_connections=1000)
    with pytest.raises(CapacityError) as refused:
        capacity.check_fits(20000)
    assert str(refused.value).startswith(
        f"the gateway's connection limits need {50000 + 1000 + UPSTREAM_MARGIN} file descriptors"
    )
    assert f"at most {20000 - 1000 - UPSTREAM_MARGIN}" in str(refused.value)


def test_the_rate_refills_in_small_steps_at_the_configured_average() -> None:
    for rate in (1, 7, 20, 50, 200, 1000):
        capacity = Capacity(requests_per_second=rate)
        assert capacity.fill_interval() >= 0.05  # Envoy's shortest
        assert capacity.tokens_per_fill() / capacity.fill_interval() == pytest.approx(rate)


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one() -> None:
    script = (
        "import resource\n"
        "from gateway.capacity import raise_nofile\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(raise_nofile() == hard, resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard)\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True
    )
    assert result.stdout.split() == ["True", "True"]


def test_the_supervisor_refuses_limits_the_machine_cannot_hold(tmp_path: Path) -> None:
    settings = Settings.from_env(suite_env(tmp_path))
    with pytest.raises(CapacityError):
        build_children(settings, {"P13N_GATEWAY_MAX_CONNECTIONS": str(10**9)})
    assert not (tmp_path / "envoy.json").exists()


def test_p13n_up_exits_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("P13N_GATEWAY_MAX_CONNECTIONS", str(10**9))
    settings = Settings.from_env(suite_env(tmp_path))
    assert up(settings, demo=False) == 1
    assert "refusing to start: the gateway's connection limits need" in caplog.text


def test_the_data_plane_is_bounded_and_the_admin_listeners_are_not() -> None:
    config = build(LOCAL)
    [monitor] = [
        m
        for m in config["overload_manager"]["resource_monitors"]
        if m["name"] == "envoy.resource_monitors.global_downstream_max_connections"
    ]
    assert monitor["typed_config"]["max_active_downstream_connections"] == 1234
    assert config["admin"]["ignore_global_conn_limit"] is True
    admin_api = _listener(config, "admin_api")
    assert admin_api["ignore_global_conn_limit"] is True
    limit = admin_api["filter_chains"][0]["filters"][0]
    assert limit["name"] == "envoy.filters.network.connection_limit"
    assert limit["typed_config"]["max_connections"] == 56
    assert "ignore_global_conn_limit" not in _listener(config, "data_plane")


def test_the_per_address_limit_runs_before_ext_authz_on_the_data_plane() -> None:
    config = build(LOCAL)
    filters = _http_filters(_listener(config, "data_plane"))
    assert filters.index("envoy.filters.http.local_ratelimit") < filters.index(
        "envoy.filters.http.ext_authz"
    )
    manager = _listener(config, "data_plane")["filter_chains"][0]["filters"][-1]["typed_config"]
    [limit] = [f for f in manager["http_filters"] if f["name"].endswith("local_ratelimit")]
    [[action]] = [limit["actions"] for limit in limit["typed_config"]["rate_limits"]]
    assert "masked_remote_address" in action  # the peer (by /64 for IPv6), never XFF
    assert manager["http2_protocol_options"]["max_concurrent_streams"] == 100
