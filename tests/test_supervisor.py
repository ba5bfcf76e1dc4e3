"""`p13n up` gives each child only the master keys it uses, runs replicas, and runs
auth, profile and offers as one process with --single-process (services/supervisor.py)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from services import cli
from services.common import pki
from services.common.config import Settings
from services.common.replicas import REFUSED_WITHOUT_DATABASE, SERVICES
from services.supervisor import (
    SINGLE_WITH_REPLICAS,
    AllReady,
    Child,
    GrpcHealthy,
    PortOpen,
    Supervisor,
    build_children,
)

INTERNAL = "11" * 32
SECRET = "22" * 32


def _child(name: str) -> Child:
    return Child(name, ["true"], PortOpen("127.0.0.1", 1))


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        pytest.param("auth", {"P13N_INTERNAL_KEY": INTERNAL, "P13N_SECRET_KEY": SECRET}, id="auth"),
        pytest.param("profile", {"P13N_INTERNAL_KEY": INTERNAL}, id="profile"),
        pytest.param("offers", {"P13N_INTERNAL_KEY": INTERNAL}, id="offers"),
        pytest.param(
            "single", {"P13N_INTERNAL_KEY": INTERNAL, "P13N_SECRET_KEY": SECRET}, id="single"
        ),
        pytest.param("envoy", {}, id="envoy"),
        pytest.param("demo-shop", {}, id="demo-shop"),
    ],
)
def test_each_child_gets_only_its_keys_even_when_ours_came_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, keys: dict[str, str]
) -> None:
    env = {"P13N_DATA_DIR": str(tmp_path), "P13N_INTERNAL_KEY": INTERNAL,
           "P13N_SECRET_KEY": SECRET}  # fmt: skip
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    supervisor = Supervisor(Settings.from_env(env), [])
    child_env = supervisor.env_of(_child(name))
    assert {k: v for k, v in child_env.items() if k.endswith("_KEY")} == keys
    others = {INTERNAL, SECRET} - set(keys.values())
    assert not [k for k, v in child_env.items() if any(key in v for key in others)]
    assert child_env["P13N_DATA_DIR"] == str(tmp_path)


def test_children_agree_on_keys_made_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("P13N_INTERNAL_KEY", raising=False)
    monkeypatch.delenv("P13N_SECRET_KEY", raising=False)
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    supervisor = Supervisor(settings, [])
    auth, offers = supervisor.env_of(_child("auth")), supervisor.env_of(_child("offers"))
    assert auth["P13N_INTERNAL_KEY"] == offers["P13N_INTERNAL_KEY"]
    assert auth["P13N_INTERNAL_KEY"] == (tmp_path / "internal.key").read_text()
    assert auth["P13N_SECRET_KEY"] == (tmp_path / "secret.key").read_text()


# `p13n up --replicas N`: every replica a child of its own, refused without PostgreSQL.


def test_replicas_without_a_database_url_are_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "var"
    monkeypatch.setenv("P13N_DATA_DIR", str(data_dir))
    monkeypatch.delenv("P13N_DATABASE_URL", raising=False)
    assert cli.main(["up", "--replicas", "2"]) == 2
    assert f"refusing to start: {REFUSED_WITHOUT_DATABASE.format(n=2)}" in caplog.text
    assert not data_dir.exists()  # no certificate, key or gateway configuration made


def test_each_replica_is_a_child_on_its_own_ports_calling_every_replica(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"P13N_DATA_DIR": str(tmp_path), "P13N_DATABASE_URL": "postgresql://db/p13n"}
    )
    pki.ensure(settings.pki_dir)
    children = build_children(settings, {}, replicas=2)
    names = [child.name for child in children]
    assert names == ["auth", "auth-2", "profile", "profile-2", "offers", "offers-2", "envoy"]
    offers_2 = children[5]
    assert offers_2.component == "offers"
    assert offers_2.env["P13N_OFFERS_PORT"] == "50063"
    assert offers_2.env["P13N_PROFILE_TARGET"] == "ipv4:127.0.0.1:50052,127.0.0.1:50062"
    # A replica holds the keys of its component, as the first one does.
    supervisor = Supervisor(settings, children)
    assert "P13N_SECRET_KEY" in supervisor.env_of(children[1])
    assert "P13N_SECRET_KEY" not in supervisor.env_of(offers_2)
    # The gateway's configuration lists both replicas.
    envoy = json.loads((tmp_path / "envoy.json").read_text())
    clusters = {c["name"]: c for c in envoy["static_resources"]["clusters"]}
    endpoints = clusters["offers"]["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert [e["endpoint"]["address"]["socket_address"]["port_value"] for e in endpoints] == [
        50053,
        50063,
    ]


def _pid(child: Child) -> int:
    assert child.process is not None
    return child.process.pid


def _sleeper(name: str) -> Child:
    return Child(
        name, [sys.executable, "-c", "import time; time.sleep(60)"], PortOpen("127.0.0.1", 1)
    )


def test_a_killed_replica_is_restarted_and_its_sibling_left_alone(tmp_path: Path) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    first, second = _sleeper("offers"), _sleeper("offers-2")
    supervisor = Supervisor(settings, [first, second])
    for child in (first, second):
        child.start(supervisor.env_of(child))
    watcher = threading.Thread(target=supervisor.watch)
    watcher.start()
    try:
        killed, sibling = _pid(second), _pid(first)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (second.alive() and _pid(second) != killed):
            time.sleep(0.05)
        assert second.alive()
        assert _pid(second) != killed
        assert (_pid(first), first.alive()) == (sibling, True)
        assert (len(second.restarts), first.restarts) == (1, [])
    finally:
        supervisor.request_stop()
        watcher.join(10)
        for child in (first, second):
            child.stop(1)


def test_one_replicas_backoff_does_not_delay_anothers_restart(tmp_path: Path) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    crashing, fresh = _sleeper("offers"), _sleeper("offers-2")
    # Died three times in the last seconds: its next start waits 1.6 s.
    crashing.restarts = [time.monotonic()] * 3
    supervisor = Supervisor(settings, [crashing, fresh])
    for child in (crashing, fresh):
        child.start(supervisor.env_of(child))
    killed = {child.name: _pid(child) for child in (crashing, fresh)}
    for child in (crashing, fresh):
        os.kill(_pid(child), signal.SIGKILL)
        assert child.process is not None
        child.process.wait(5)  # dead and reaped before the supervisor looks
    watcher = threading.Thread(target=supervisor.watch)
    watcher.start()
    try:
        started = time.monotonic()
        while time.monotonic() - started < 5 and not fresh.alive():
            time.sleep(0.02)
        assert fresh.alive()
        assert time.monotonic() - started < 1.0
        assert not crashing.alive()  # still in its own backoff
        while time.monotonic() - started < 5 and not crashing.alive():
            time.sleep(0.02)
        assert crashing.alive()
        assert _pid(crashing) != killed["offers"]
    finally:
        supervisor.request_stop()
        watcher.join(10)
        for child in (crashing, fresh):
            child.stop(1)


def test_up_without_envoy_names_the_extra_that_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from services import supervisor

    python = tmp_path / "bin" / "python"  # a Python with no envoy beside it
    monkeypatch.setattr(sys, "executable", str(python))
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path / "data")})
    assert supervisor.up(settings, demo=False, replicas=1) == 2
    assert "pip install 'p13n[gateway]'" in caplog.text
    assert not (tmp_path / "data").exists()  # refused before anything was made


# `p13n up --single-process`: one process of auth, profile and offers, then Envoy.


def test_single_process_children_are_single_and_envoy(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"P13N_DATA_DIR": str(tmp_path), "P13N_AUTH_PORT": "51051",
         "P13N_PROFILE_PORT": "51052", "P13N_OFFERS_PORT": "51053"}
    )  # fmt: skip
    pki.ensure(settings.pki_dir)
    children = build_children(settings, {}, single_process=True)
    assert [child.name for child in children] == ["single", "envoy"]
    single = children[0]
    assert single.argv == [sys.executable, "-m", "services.single"]
    assert single.component == "single"
    # Each server's port, where Envoy, the CLI and the supervisor reach it.
    ports = {name: single.env[f"P13N_{name.upper()}_PORT"] for name in SERVICES}
    assert ports == {"auth": "51051", "profile": "51052", "offers": "51053"}
    # Ready when every one of its servers is.
    assert isinstance(single.ready, AllReady)
    checked = [
        (part.target, part.server) for part in single.ready.parts if isinstance(part, GrpcHealthy)
    ]
    assert sorted(checked) == [
        ("127.0.0.1:51051", "auth"),
        ("127.0.0.1:51052", "profile"),
        ("127.0.0.1:51053", "offers"),
    ]
    assert len(single.ready.parts) == len(checked)
    # Envoy routes to the same ports as in the per-service mode.
    envoy = json.loads((tmp_path / "envoy.json").read_text())
    clusters = {c["name"]: c for c in envoy["static_resources"]["clusters"]}
    routed = {
        name: [
            e["endpoint"]["address"]["socket_address"]["port_value"]
            for e in clusters[name]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        ]
        for name in ("profile", "offers")
    }
    assert routed == {"profile": [51052], "offers": [51053]}


def test_the_single_process_gets_the_keys_only_from_the_supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key in the child's own settings: CHILD_KEYS adds auth's two (it hosts auth)."""
    monkeypatch.setenv("P13N_INTERNAL_KEY", INTERNAL)
    monkeypatch.setenv("P13N_SECRET_KEY", SECRET)
    settings = Settings.from_env(
        {"P13N_DATA_DIR": str(tmp_path), "P13N_INTERNAL_KEY": INTERNAL, "P13N_SECRET_KEY": SECRET}
    )
    pki.ensure(settings.pki_dir)
    single, envoy = build_children(settings, {}, single_process=True)
    assert not [name for name in single.env if name.endswith("_KEY")]
    supervisor = Supervisor(settings, [])
    keys = {k: v for k, v in supervisor.env_of(single).items() if k.endswith("_KEY")}
    assert keys == {"P13N_INTERNAL_KEY": INTERNAL, "P13N_SECRET_KEY": SECRET}
    assert not [k for k, v in supervisor.env_of(envoy).items() if v in (INTERNAL, SECRET)]


def test_single_process_with_replicas_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "var"
    monkeypatch.setenv("P13N_DATA_DIR", str(data_dir))
    monkeypatch.setenv("P13N_DATABASE_URL", "postgresql://db/p13n")  # replicas could run
    monkeypatch.delenv("P13N_SINGLE_PROCESS", raising=False)
    assert cli.main(["up", "--single-process", "--replicas", "2"]) == 2
    assert f"refusing to start: {SINGLE_WITH_REPLICAS}" in caplog.text
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("value", "single"),
    [("1", True), ("true", True), ("0", False), ("", False)],
)
def test_the_cli_reads_p13n_single_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    value: str,
    single: bool,
) -> None:
    """Told by the environment, `p13n up --replicas 2` is refused as the flag would have it;
    otherwise for the lack of a database, as without the flag."""
    monkeypatch.setenv("P13N_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("P13N_DATABASE_URL", raising=False)
    monkeypatch.setenv("P13N_SINGLE_PROCESS", value)
    assert cli.main(["up", "--replicas", "2"]) == 2
    assert (SINGLE_WITH_REPLICAS in caplog.text) is single
    assert (REFUSED_WITHOUT_DATABASE.format(n=2) in caplog.text) is not single


def test_the_cli_passes_single_process_to_the_supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services import supervisor

    seen: list[dict[str, object]] = []

    def up(_settings: Settings, **options: object) -> int:
        seen.append(options)
        return 0

    monkeypatch.setenv("P13N_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(supervisor, "up", up)
    monkeypatch.setenv("P13N_SINGLE_PROCESS", "1")
    assert cli.main(["up"]) == 0
    monkeypatch.delenv("P13N_SINGLE_PROCESS")
    assert cli.main(["up", "--single-process"]) == 0
    assert cli.main(["up"]) == 0
    assert [options["single_process"] for options in seen] == [True, True, False]


def test_with_the_timing_log_on_envoy_writes_it_to_its_path_twice_a_second(tmp_path: Path) -> None:
    plain = Settings.from_env({"P13N_DATA_DIR": str(tmp_path)})
    pki.ensure(plain.pki_dir)
    *_, envoy = build_children(plain, {})
    assert "--file-flush-interval-msec" not in envoy.argv
    log = tmp_path / "timing.jsonl"
    timed = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), "P13N_GATEWAY_TIMING_LOG": str(log)})
    *_, envoy = build_children(timed, {})
    flush = envoy.argv.index("--file-flush-interval-msec")
    assert envoy.argv[flush + 1] == "500"
    listeners = json.loads((tmp_path / "envoy.json").read_text())["static_resources"]["listeners"]
    [data_plane] = [x for x in listeners if x["name"] == "data_plane"]
    manager = data_plane["filter_chains"][0]["filters"][-1]["typed_config"]
    assert manager["access_log"][0]["typed_config"]["path"] == str(log)
