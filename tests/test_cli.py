"""The CLI answers a bad setting with its message and exit code 2, never a traceback; an
operator command run where no auth database lives is refused with exit code 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from services import cli
from services.auth.store import open_store
from services.auth.validation import FLAG_PUBLIC_SERVICES as FLAG
from services.common.config import Settings


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


def _operator_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("P13N_DATA_DIR", str(data_dir))
    for name in ("P13N_DATABASE_URL", "P13N_SECRET_KEY", "P13N_INTERNAL_KEY"):
        monkeypatch.delenv(name, raising=False)


BOOTSTRAP = ["bootstrap", "--email", "o@shop.example", "--password", "correct horse battery"]


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        pytest.param([*BOOTSTRAP, "--account", "shop"], "bootstrap", id="bootstrap"),
        pytest.param(["flags", "set", "--account", "1", f"{FLAG}=on"], "flags set", id="flags"),
    ],
)
def test_an_operator_command_where_no_auth_database_lives_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    command: str,
) -> None:
    """As in a pod other than auth's: nothing is made there, not even a secret key."""
    data_dir = tmp_path / "var"
    _operator_env(monkeypatch, data_dir)
    assert cli.main(argv) == 1
    announced, error = capsys.readouterr().err.split("\n", 1)
    assert announced == f"p13n: data directory {data_dir} (P13N_DATA_DIR)"
    assert error.startswith(
        f"p13n {command}: no auth database at {data_dir / 'auth.db'}: p13n {command} must "
        "run where the auth service keeps its data (P13N_DATA_DIR), e.g. "
        f"`kubectl exec deploy/p13n-auth -- p13n {command} ...`"
    )
    assert "Traceback" not in error
    assert not data_dir.exists()


def test_bootstrap_works_once_the_auth_service_made_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _operator_env(monkeypatch, tmp_path)

    async def as_the_auth_service_starts() -> None:
        # Its key first: without P13N_SECRET_KEY the auth service (`p13n up`) makes
        # secret.key in the data directory, which the CLI then reads.
        assert Settings.from_env({"P13N_DATA_DIR": str(tmp_path)}).secret_key
        await (await open_store(tmp_path)).close()

    asyncio.run(as_the_auth_service_starts())
    assert cli.main([*BOOTSTRAP, "--account", "shop", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["api_key"]
    assert cli.main(["flags", "set", "--account", created["account_id"], f"{FLAG}=on"]) == 0


def test_bootstrap_without_the_secret_key_is_refused_and_makes_none(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_env: dict[str, str],
) -> None:
    """Issue 18 review: on a pod other than auth's (PostgreSQL: the database is reachable
    from anywhere) without P13N_SECRET_KEY, bootstrap made secret.key in the data directory
    (a traceback on a read-only volume, else a stray key the auth service does not have).
    It now refuses, saying where to run it, and makes no key; with the key it works."""
    _operator_env(monkeypatch, tmp_path)
    for name, value in database_env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()

    async def as_the_auth_service_starts() -> None:  # with its key in its environment only
        await (await open_store(settings)).close()

    asyncio.run(as_the_auth_service_starts())
    assert cli.main([*BOOTSTRAP, "--account", "shop"]) == 1
    announced, error = capsys.readouterr().err.split("\n", 1)
    assert announced == f"p13n: data directory {tmp_path} (P13N_DATA_DIR)"
    assert error == (
        "p13n bootstrap: p13n bootstrap needs the auth service's secret key: P13N_SECRET_KEY "
        f"is not set and {tmp_path / 'secret.key'} does not exist. Run it where the auth "
        "service runs, e.g. `kubectl exec deploy/p13n-auth -- p13n bootstrap ...` (that pod "
        "has P13N_SECRET_KEY), or set P13N_SECRET_KEY to the auth service's key; nothing was "
        "created\n"
    )
    assert not (tmp_path / "secret.key").exists()
    monkeypatch.setenv("P13N_SECRET_KEY", "ab" * 32)
    assert cli.main([*BOOTSTRAP, "--account", "shop"]) == 0
    assert not (tmp_path / "secret.key").exists()


def test_bootstrap_names_a_service_link_in_a_port_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18: `kubectl exec ... p13n bootstrap` in a pod with service links exited 2 with
    "is not a port number"; the message now says what the value is and what to change."""
    _operator_env(monkeypatch, tmp_path)
    monkeypatch.setenv("P13N_AUTH_PORT", "tcp://10.0.0.11:50051")
    assert cli.main([*BOOTSTRAP, "--account", "shop"]) == 2
    assert capsys.readouterr().err == (
        "p13n: configuration error: P13N_AUTH_PORT='tcp://10.0.0.11:50051' looks like a "
        "Kubernetes service link, not a port number: set enableServiceLinks: false on the pod "
        "(deploy/ does) or set P13N_AUTH_PORT to a number 0-65535\n"
    )
