"""`p13n up` gives each child only the master keys it uses (services/supervisor.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import Settings
from services.supervisor import Child, PortOpen, Supervisor

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
