"""The CLI answers a bad setting with its message and exit code 2, never a traceback."""

from __future__ import annotations

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
