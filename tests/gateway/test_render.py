"""Every rendered gateway configuration is one the real Envoy accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.render import GatewayConfig, Upstream, build, render

LOCAL = GatewayConfig(
    bind_host="127.0.0.1",
    data_port=8080,
    admin_port=8081,
    envoy_admin_port=9901,
    auth=Upstream("127.0.0.1", 50051),
    profile=Upstream("127.0.0.1", 50052),
    offers=Upstream("127.0.0.1", 50053),
)
KUBERNETES = GatewayConfig(
    bind_host="0.0.0.0",
    data_port=8080,
    admin_port=8081,
    envoy_admin_port=9901,
    auth=Upstream("p13n-auth", 50051),
    profile=Upstream("p13n-profile", 50052),
    offers=Upstream("p13n-offers", 50053),
)


@pytest.mark.parametrize(
    "config", [pytest.param(LOCAL, id="local"), pytest.param(KUBERNETES, id="kubernetes")]
)
def test_envoy_validates_rendered_config(tmp_path: Path, config: GatewayConfig) -> None:
    path = tmp_path / "envoy.json"
    path.write_text(render(config))
    envoy = str(Path(sys.executable).with_name("envoy"))
    result = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr


def test_envoy_admin_listens_on_loopback_only() -> None:
    address = build(KUBERNETES)["admin"]["address"]["socket_address"]["address"]
    assert address == "127.0.0.1"


def test_every_listener_runs_ext_authz_before_the_transcoder() -> None:
    for listener in build(LOCAL)["static_resources"]["listeners"]:
        manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
        names = [f["name"] for f in manager["http_filters"]]
        assert (
            names.index("envoy.filters.http.header_mutation")
            < names.index("envoy.filters.http.ext_authz")
            < names.index("envoy.filters.http.grpc_json_transcoder")
        )
        assert manager["use_remote_address"] is True
        routes = manager["route_config"]["virtual_hosts"][0]["routes"]
        assert routes[-1]["match"] == {"prefix": "/"}, "a catch-all route keeps ext_authz on"
