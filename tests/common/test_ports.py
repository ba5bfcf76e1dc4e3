"""free_port: distinct ports, from the range P13N_TEST_PORTS sets, validated with a message
that names the variable and the form."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest

from services.common import ports
from services.common.config import ConfigError
from services.common.ports import free_port, port_range
from services.common.replicas import REPLICA_PORT_STEP


def test_ports_handed_out_are_distinct() -> None:
    ports_ = [free_port() for _ in range(3000)]
    assert len(set(ports_)) == len(ports_)


def test_by_default_they_stay_below_the_ephemeral_range() -> None:
    start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert port_range({}) == range(10000, start)
    assert port_range({"P13N_TEST_PORTS": ""}) == range(10000, start)


def test_the_variable_confines_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P13N_TEST_PORTS", "23000-23099")
    handed = {free_port() for _ in range(50)}
    assert len(handed) == 50
    assert all(23000 <= port <= 23099 for port in handed)


def _two_free_neighbours() -> int:
    """A port this test holds a listener on whose next port is free (and not handed out)."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        # An earlier test may have handed it out (then free_port would pass it over).
        ports._HANDED_OUT.discard(port + 1)  # noqa: SLF001
        return port
    raise AssertionError("no two free neighbouring ports in 100 tries")


def test_a_taken_port_in_a_small_range_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _two_free_neighbours()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", taken))
        listener.listen()
        ports._HANDED_OUT.discard(taken)  # noqa: SLF001 (so only the listener keeps it from us)
        monkeypatch.setenv("P13N_TEST_PORTS", f"{taken}-{taken + 1}")
        assert {free_port()} == {taken + 1}
        with pytest.raises(OSError, match=f"no free port in P13N_TEST_PORTS={taken}-{taken + 1}"):
            free_port()


def test_an_exhausted_range_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P13N_TEST_PORTS", "24000-24001")
    # Two calls take both ports (or find them taken); the third finds none.
    for _ in range(2):
        with contextlib.suppress(OSError):
            free_port()
    with pytest.raises(OSError, match=r"no free port in P13N_TEST_PORTS=24000-24001: widen"):
        free_port()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("20000", id="one-number"),
        pytest.param("20000:29999", id="colon"),
        pytest.param("a-b", id="words"),
        pytest.param("-29999", id="no-low"),
        pytest.param("20000-", id="no-high"),
        pytest.param("-1-5", id="negative"),
    ],
)
def test_a_malformed_range_is_refused_with_the_form(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        port_range({"P13N_TEST_PORTS": value})
    assert str(refused.value) == (
        f"P13N_TEST_PORTS={value!r} is not a port range: use LOW-HIGH, e.g. 20000-29999"
    )


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("29999-20000", id="reversed"),
        pytest.param("80-8080", id="privileged"),
        pytest.param("60000-70000", id="past-65535"),
    ],
)
def test_a_range_out_of_bounds_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"P13N_TEST_PORTS=.* must be LOW-HIGH with 1024 <="):
        port_range({"P13N_TEST_PORTS": value})


def test_a_bad_range_stops_the_test_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import pytest_configure

    monkeypatch.setenv("P13N_TEST_PORTS", "lots")
    with pytest.raises(pytest.UsageError, match="P13N_TEST_PORTS='lots' is not a port range"):
        pytest_configure()


def test_with_replicas_every_replicas_port_is_free_and_handed_out() -> None:
    base = free_port(replicas=3)
    wanted = (base, base + REPLICA_PORT_STEP, base + 2 * REPLICA_PORT_STEP)
    assert set(wanted) <= ports._HANDED_OUT  # noqa: SLF001
    assert not {free_port() for _ in range(2000)} & set(wanted)


def test_a_base_whose_second_replicas_port_is_taken_is_passed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The range holds two bases: the first one's replica port is held by a listener (as
    # another suite's gateway held it in CI), the second one's is free.
    low = _free_run(2 * REPLICA_PORT_STEP + 2)
    monkeypatch.setattr(ports, "_HANDED_OUT", set())  # the range is this test's alone
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", low + REPLICA_PORT_STEP))
        listener.listen()
        monkeypatch.setenv("P13N_TEST_PORTS", f"{low}-{low + 1 + REPLICA_PORT_STEP}")
        assert free_port(replicas=2) == low + 1
        with pytest.raises(OSError, match="no free port in P13N_TEST_PORTS"):
            free_port(replicas=2)


def _free_run(length: int) -> int:
    """The first of ``length`` consecutive ports nothing listens on."""
    for _ in range(100):
        low = free_port()
        if all(ports._bindable(port) for port in range(low + 1, low + length)):  # noqa: SLF001
            return low
    raise AssertionError(f"no {length} free consecutive ports in 100 tries")
