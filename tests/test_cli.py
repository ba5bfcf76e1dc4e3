"""The CLI answers a bad setting with its message and exit code 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services import cli


def test_a_gateway_limit_that_is_not_a_number_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P13N_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("P13N_GATEWAY_MAX_CONNECTIONS", "abc")
    assert cli.main(["gateway-config"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("p13n: configuration error: P13N_GATEWAY_MAX_CONNECTIONS='abc'")
    assert "Traceback" not in error


def test_up_with_fewer_than_one_replica_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("P13N_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("P13N_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/p13n")
    assert cli.main(["up", "--replicas", "0"]) == 2
    assert "refusing to start: --replicas 0: use a whole number of at least 1" in caplog.text
    assert not (tmp_path / "var").exists()


def test_gateway_config_lists_every_replica_or_says_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P13N_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("P13N_DATABASE_URL", raising=False)
    assert cli.main(["gateway-config", "--replicas", "2"]) == 2
    assert capsys.readouterr().err.startswith(
        "p13n: configuration error: --replicas 2 needs P13N_DATABASE_URL"
    )
    monkeypatch.setenv("P13N_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/p13n")
    assert cli.main(["gateway-config", "--replicas", "2"]) == 0
    clusters = json.loads(capsys.readouterr().out)["static_resources"]["clusters"]
    offers = next(c for c in clusters if c["name"] == "offers")
    endpoints = offers["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert len(endpoints) == 2
    assert "health_checks" in offers
