"""`p13n up --demo` as a user runs it: the shop is served on its own origin, its public token
works from that origin, and a second run on the same data directory reuses the demo."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.http import request
from support.ports import free_port
from support.suite import suite_env

from services.demo import definition as demo_config
from services.demo import loader as demo_loader
from services.demo.shop import SDK_FILE

START_TIMEOUT = 90.0


@contextmanager
def _up_demo(env: dict[str, str]) -> Iterator[str]:
    """Runs `p13n up --demo` until the block ends; yields what it printed up to "p13n is up"."""
    p13n = str(Path(sys.executable).with_name("p13n"))
    up = subprocess.Popen(
        [p13n, "up", "--demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert up.stdout is not None
        lines = []
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            lines.append(line)
            if "p13n is up" in line or not line:
                break
        while "p13n is up" in lines[-1] or lines[-1].startswith("  "):
            lines.append(up.stdout.readline())  # the banner's URL lines
        printed = "".join(lines)
        assert "p13n is up" in printed, printed
        yield printed
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(30)
        assert up.stdout is not None
        up.stdout.close()  # the pipe is ours to close
    assert code == 0


def _page_config(shop_port: int) -> dict[str, object]:
    script = request("GET", shop_port, "/config.js")
    assert script.status == 200
    prefix, _, rest = script.body.decode().partition("=")
    assert prefix.strip() == "window.P13N_DEMO"
    config: dict[str, object] = json.loads(rest.strip().removesuffix(";"))
    return config


def _personalize(
    env: dict[str, str], token: str, origin: str
) -> tuple[int, str, dict[str, object]]:
    reply = request(
        "POST",
        int(env["P13N_DATA_PORT"]),
        f"/public/{demo_config.DATABASE}/{demo_config.TABLE}",
        headers={"wp13n-token": token, "origin": origin},
        body={"td_client_id": "6f1c7a52-6c0e-4d7e-9a8e-0b7b0d6e2c11", "td_path": "/"},
    )
    return reply.status, reply.headers.get("access-control-allow-origin", ""), reply.json()


def test_up_demo_serves_the_shop_and_a_second_run_reuses_the_demo(tmp_path: Path) -> None:
    shop_port = free_port()
    env = {**os.environ, **suite_env(tmp_path), "P13N_DEMO_PORT": str(shop_port)}
    origin = f"http://127.0.0.1:{shop_port}"

    with _up_demo(env) as printed:
        assert f"demo shop   {origin}/" in printed
        console = f"http://127.0.0.1:{env['P13N_ADMIN_PORT']}/console/"
        assert f"console     {console}" in printed
        assert f"demo owner  {demo_loader.OWNER_EMAIL}" in printed
        home = request("GET", shop_port, "/")
        assert home.status == 200
        assert b'<script src="/sdk/p13n.js">' in home.body
        assert (
            f"connect-src 'self' http://127.0.0.1:{env['P13N_DATA_PORT']}"
            in (home.headers["content-security-policy"])
        )
        assert request("GET", shop_port, "/sdk/p13n.js").body == SDK_FILE.read_bytes()
        config = _page_config(shop_port)
        assert config["endpoint"] == f"http://127.0.0.1:{env['P13N_DATA_PORT']}"
        token = str(config["token"])
        status, allow_origin, answer = _personalize(env, token, origin)
        assert (status, allow_origin) == (200, origin), answer
        offers = answer["offers"]
        assert isinstance(offers, dict)
        assert offers.get(demo_config.LOYALTY_DISCOUNT) == {}, offers
        assert offers[demo_config.WELCOME_BANNER]["attributes"]["welcome_message"] == (
            demo_config.WELCOME_MESSAGE
        )
        # The same token from any other origin is refused, without CORS headers.
        status, allow_origin, _ = _personalize(env, token, "http://127.0.0.1:1")
        assert (status, allow_origin) == (403, "")
        # The shop process signs its member in with the identity secret it alone reads: the
        # proof makes the member id count from the browser (issue 13, verified identifiers).
        signed = request("POST", shop_port, "/sign-in").json()
        assert signed["member_id"] == demo_config.DEMO_MEMBER_ID
        for proofs, member in (({}, False), ({"member_id": signed["proof"]}, True)):
            reply = request(
                "POST",
                int(env["P13N_DATA_PORT"]),
                f"/public/{demo_config.DATABASE}/{demo_config.TABLE}",
                headers={"wp13n-token": token, "origin": origin},
                body={
                    "td_client_id": "0b7b0d6e-2c11-4d7e-9a8e-6f1c7a526c0e",
                    "member_id": signed["member_id"],
                    "p13n_proofs": proofs,
                },
            )
            welcome = reply.json()["offers"][demo_config.WELCOME_BANNER]["attributes"]
            assert welcome["loyalty_member"] is member, (proofs, reply.body)

    saved = tmp_path / "demo.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "demo-shop.secret").stat().st_mode) == 0o600
    first = json.loads(saved.read_text())

    with _up_demo(env):
        assert json.loads(saved.read_text()) == first  # same account, key and tokens
        assert _page_config(shop_port)["token"] == token
        assert _personalize(env, token, origin)[0] == 200
        admin = int(env["P13N_ADMIN_PORT"])
        key = {"authorization": f"TD1 {first['api_key']}"}
        segments = request("GET", admin, "/v1/parent_segments", headers=key).json()
        assert [s["name"] for s in segments["parent_segments"]] == [
            demo_config.PARENT_SEGMENT["name"]
        ]
        # The console is served, and the demo's owner signs in with demo.json's password.
        assert request("GET", admin, "/console/").status == 200
        owner = {"email": first["email"], "password": first["password"]}
        session = request("POST", admin, "/v1/sessions", body=owner)
        assert session.status == 200, session.body
        ps = segments["parent_segments"][0]["id"]
        listed = request("GET", admin, f"/v1/parent_segments/{ps}/personalizations", headers=key)
        names = sorted(p["name"] for p in listed.json()["personalizations"])
        assert names == sorted(p["name"] for p in demo_config.PERSONALIZATIONS)
