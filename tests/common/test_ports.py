"""free_port never hands out the same port twice in one process."""

from __future__ import annotations

from services.common.ports import free_port


def test_ports_handed_out_are_distinct() -> None:
    ports = [free_port() for _ in range(3000)]
    assert len(set(ports)) == len(ports)
