"""`p13n up` refuses to start more replicas than the PostgreSQL server has connections for
(services/connection_budget.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from services import cli, connection_budget
from services.common.config import ConfigError


def test_the_budget_counts_every_pool_and_listener_per_replica() -> None:
    assert connection_budget.PER_PROCESS == {"auth": 12, "profile": 20, "offers": 11}
    assert connection_budget.refusal(2, 100, 3) is None  # 86 of 97
    reason = connection_budget.refusal(3, 100, 3)
    assert reason == (
        "--replicas 3 may open up to 129 PostgreSQL connections (43 per replica: auth 12, "
        "profile 20, offers 11), but the server allows 97 (max_connections 100, 3 reserved "
        "for superusers); raise max_connections to at least 132, put a pooler such as "
        "PgBouncer in front, or run at most 2 replicas"
    )


def test_up_refuses_replicas_the_server_cannot_hold_before_anything_starts(
    tmp_path: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data_dir = tmp_path / "var"
    monkeypatch.setenv("P13N_DATA_DIR", str(data_dir))
    monkeypatch.setenv("P13N_DATABASE_URL", postgres_url)
    # Enough replicas for any server a test runs against (the default allows 100).
    assert cli.main(["up", "--replicas", "40"]) == 2
    assert "refusing to start: --replicas 40 may open up to 1720 PostgreSQL" in caplog.text
    assert not data_dir.exists()


@pytest.mark.parametrize(
    "written",
    [
        "postgresql://p13n:s3cret@127.0.0.1:{port}/p13n",
        "postgresql://p13n@127.0.0.1:{port}/p13n?password=s3cret",
    ],
)
def test_a_server_that_cannot_be_reached_is_named_without_its_password(written: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        connection_budget.check(written.format(port=port), 2, patience=1.5)
    message = str(refused.value)
    assert message.startswith("cannot reach PostgreSQL at postgresql://p13n")
    assert f"127.0.0.1:{port}/p13n:" in message
    assert "s3cret" not in message
    # A server still starting is given the patience before p13n up gives up.
    assert time.monotonic() - started >= 1.5


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:s3cret@127.0.0.1:5999,127.0.0.1:5998/db",
        "postgresql://u:s3cret@127.0.0.1:99999/db",
    ],
)
def test_a_url_asyncpg_cannot_use_is_refused_by_name_not_with_a_traceback(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        connection_budget.check(url, 2, patience=0)
    assert "s3cret" not in str(refused.value)


def test_one_replica_on_a_small_server_is_warned_about_not_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def small(_url: str, _patience: float) -> tuple[int, int, int]:
        return 25, 3, 0

    monkeypatch.setattr(connection_budget, "_limits_when_reachable", small)
    connection_budget.check("postgresql://u@db/p", 1)
    assert "may open up to 43 PostgreSQL connections" in caplog.text
    with pytest.raises(ConfigError, match="--replicas 2 may open up to 86"):
        connection_budget.check("postgresql://u@db/p", 2)


def test_a_server_that_holds_the_suite_is_accepted(postgres_url: str) -> None:
    connection_budget.check(postgres_url, 1)
