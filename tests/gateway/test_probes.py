"""The gateway pod's probe listener and its preStop drain, through the real Envoy
(gateway/probes.py): /ready is Envoy's own (every probe asks it), nothing else of the admin is
reachable; /drain lets the requests in flight finish, fails /ready, closes connections
after their request and stops the listeners, and answers only after its hold.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support.admin import Account
from support.http import Response, request
from support.ports import free_port
from support.suite import Recorder, Suite

from gateway.render import DESCRIPTOR_FILE, GatewayConfig

DRAIN_TIME = 1  # Envoy's --drain-time-s: the listeners stop accepting after it
HOLD = 4  # the preStop call's answer comes after it
SLOW = 2.5  # how long the slow request's service takes


class SlowProfile(Recorder):
    """The profile service's calls, each taking ``delay`` seconds while it is set."""

    delay = 0.0

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        if self.delay and details.method.endswith("/ListParentSegments"):
            await asyncio.sleep(self.delay)
        return await super().intercept_service(continuation, details)


# The descriptor set as deploy/ ships it (no source info, gateway/descriptor.py): every
# request here is transcoded with it.
SHIPPED_DESCRIPTOR = Path(__file__).resolve().parents[2] / "deploy/base/gateway" / DESCRIPTOR_FILE


class KubeletsGateway(Suite):
    """The suite with the Kubernetes probe listener on a free port and a short drain."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.probe_port = free_port()

    def gateway_config(self) -> GatewayConfig:
        return dataclasses.replace(
            super().gateway_config(),
            descriptor=SHIPPED_DESCRIPTOR,
            probe_port=self.probe_port,
            drain_hold_seconds=HOLD,
        )

    def envoy_args(self) -> list[str]:
        return ["--drain-time-s", str(DRAIN_TIME)]


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[KubeletsGateway]:
    running = KubeletsGateway(tmp_path)
    running.recorders["profile"] = SlowProfile()
    running.start()
    try:
        yield running
    finally:
        running.close()


def _probe(suite: KubeletsGateway, path: str, method: str = "GET") -> Response:
    return request(method, suite.probe_port, path, timeout=HOLD + 5)


def _until_ready(suite: KubeletsGateway) -> None:
    deadline = time.monotonic() + 10
    while _probe(suite, "/ready").status != 200:
        assert time.monotonic() < deadline, "Envoy's /ready never answered 200"
        time.sleep(0.1)


def test_the_kubelet_sees_ready_and_nothing_else(suite: KubeletsGateway) -> None:
    _until_ready(suite)
    ready = _probe(suite, "/ready")
    assert (ready.status, ready.body) == (200, b"LIVE\n")  # Envoy's admin's own answer
    for method, path in [
        ("GET", "/stats"),
        ("GET", "/config_dump"),
        ("GET", "/server_info"),
        ("GET", "/clusters"),
        ("POST", "/quitquitquit"),
        ("POST", "/healthcheck/fail"),
        ("POST", "/drain_listeners"),
        ("POST", "/logging?level=trace"),
        ("GET", "/ready/../stats"),
        ("GET", "/"),
        ("POST", "/ready"),
        ("GET", "/live"),  # liveness asks /ready (gateway/probes.py says why)
        ("POST", "/drain"),  # the hook is a GET; anything else is not it
    ]:
        assert _probe(suite, path, method).status == 404, (method, path)
    # None of them reached the admin: still live, still ready, still serving.
    assert _probe(suite, "/ready").status == 200
    assert request("GET", suite.admin_port, "/v1/me").status == 401


def test_the_prestop_drain_lets_requests_in_flight_finish(suite: KubeletsGateway) -> None:
    account = Account.create(suite)
    _until_ready(suite)
    slow = suite.recorders["profile"]
    assert isinstance(slow, SlowProfile)
    # A client with a keep-alive connection already open, as a balancer's pool holds it.
    pooled = http.client.HTTPConnection("127.0.0.1", suite.admin_port, timeout=10)
    headers = {"authorization": f"TD1 {account.api_key}"}
    pooled.request("GET", "/v1/me", headers=headers)
    first = pooled.getresponse()
    first.read()
    assert (first.status, first.getheader("connection")) == (200, None)
    slow.delay = SLOW
    with ThreadPoolExecutor(2) as pool:
        in_flight: Future[Response] = pool.submit(account.call, "GET", "/v1/parent_segments")
        time.sleep(0.5)  # it reached the profile service and waits there
        started = time.monotonic()
        hook = pool.submit(_probe, suite, "/drain")
        _until(lambda: _probe(suite, "/ready").status == 503)
        assert _probe(suite, "/ready").body == b"DRAINING\n"
        # The pooled connection is answered, and told to close.
        pooled.request("GET", "/v1/me", headers=headers)
        answer = pooled.getresponse()
        answer.read()
        assert (answer.status, answer.getheader("connection")) == (200, "close")
        # After the drain time no new connection is accepted, on either listener.
        time.sleep(max(0.0, started + DRAIN_TIME + 0.5 - time.monotonic()))
        for port in (suite.admin_port, suite.data_port):
            with pytest.raises(ConnectionRefusedError):
                request("GET", port, "/v1/me", timeout=2)
        # The request that was in flight when the drain began still finished, after the
        # listeners closed.
        finished = in_flight.result(timeout=10)
        assert finished.status == 200, finished.body
        assert time.monotonic() > started + DRAIN_TIME
        # The hook answers after its hold, and only then would the kubelet send SIGTERM.
        assert hook.result(timeout=HOLD + 5).status == 200
        # Envoy starts the delay's timer from its event loop's cached clock, which a full run
        # saw a few milliseconds behind ours (3.997 s for a 4 s hold).
        assert time.monotonic() - started >= HOLD - 0.05
    pooled.close()


def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
