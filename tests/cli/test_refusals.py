"""The CLI's refusals when it is pointed at the wrong place or given odd input: a message and
exit 1 or 2, never a traceback, and never an API key sent where it was not meant to go.

Against ``fake_server`` (a foreign page, a non-HTTP port, odd bodies), no suite."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from services import cli
from services.cli import profiles
from services.cli.doctor import choose_parent_segment, visitor_for
from services.cli.output import emit

from .conftest import Ran
from .fake_server import Answer, serving

KEY = "1/" + "a" * 40
OTHER_KEY = "2/" + "b" * 40
SEGMENTS = {"parent_segments": [{"id": "1", "name": "Shop"}]}
ME = {"account_id": "1", "role": "ROLE_ADMIN"}
Runner = Callable[..., Ran]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """Runs `p13n ARGS...` in-process with only ``env``'s admin variables set."""

    def runner(*args: str, env: dict[str, str] | None = None) -> Ran:
        for name in ("P13N_ADMIN_URL", "P13N_API_KEY", "P13N_PARENT_SEGMENT", "P13N_PASSWORD"):
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = cli.main(list(args))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return runner


@pytest.fixture(autouse=True)
def no_profiles() -> None:
    profiles.profiles_file().unlink(missing_ok=True)


def test_a_saved_key_goes_only_to_the_url_it_was_saved_for(run: Runner) -> None:
    with serving({"/v1/parent_segments": (200, SEGMENTS)}) as saved, serving({}) as other:
        profiles.save("default", profiles.Profile(saved.url, KEY))
        ran = run("get", "parent-segments", env={"P13N_ADMIN_URL": other.url})
        assert ran.code == 2
        assert "P13N_ADMIN_URL is set without P13N_API_KEY" in ran.err
        assert other.seen == []
        # The saved URL itself: the saved key goes with it.
        assert run("get", "parent-segments", env={"P13N_ADMIN_URL": saved.url}).code == 0
        # An exported key that is not the saved one does not go to the saved URL.
        ran = run("get", "parent-segments", env={"P13N_API_KEY": OTHER_KEY})
        assert ran.code == 2
        assert "P13N_API_KEY is set without P13N_ADMIN_URL" in ran.err
        assert run("get", "parent-segments", env={"P13N_API_KEY": KEY}).code == 0
        assert {seen.authorization for seen in saved.seen} == {f"TD1 {KEY}"}
    assert len(saved.seen) == 2


@pytest.mark.parametrize("url", ["127.0.0.1:8081", "http://h:abc", "http://[::1"])
def test_a_malformed_admin_url_is_a_usage_error_naming_the_variable(run: Runner, url: str) -> None:
    ran = run("get", "events", env={"P13N_ADMIN_URL": url, "P13N_API_KEY": KEY})
    assert ran.code == 2
    assert "P13N_ADMIN_URL" in ran.err
    assert "Traceback" not in ran.err


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n", id="not-http"),
        pytest.param(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"parent_', id="truncated"),
        pytest.param((200, [1, 2]), id="json-list"),
    ],
)
def test_an_answer_that_is_not_the_admin_api_is_a_refusal(run: Runner, answer: Answer) -> None:
    with serving({}, default=answer) as server:
        ran = run("get", "parent-segments", env={"P13N_ADMIN_URL": server.url, "P13N_API_KEY": KEY})
    assert ran.code == 1
    assert ran.err.startswith("p13n: "), ran.err
    assert KEY not in ran.err


def test_names_with_rich_markup_print_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    emit([{"name": "[/oops]"}, {"name": "[red]x :smile:"}], "table", ("name",), title="[/t]")
    out = capsys.readouterr().out
    assert "[/oops]" in out
    assert "[red]x :smile:" in out
    assert "[/t]" in out


def test_preview_prints_server_text_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    from services.cli.preview import _show

    answer = {
        "sections": [{"name": "[/oops]", "matched": True}],
        "public_response": {"[red]x": "[/b]"},
        "warnings": ["[bold]w"],
    }
    _show(answer, "[/title]")
    out = capsys.readouterr().out
    for text in ("[/oops]", '"[red]x": "[/b]"', "warning: [bold]w", "[/title]"):
        assert text in out


def test_a_corrupt_profiles_file_is_named_and_login_replaces_it(run: Runner) -> None:
    path = profiles.profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    ran = run("get", "events")
    assert ran.code == 1
    assert str(path) in ran.err
    assert "remove it" in ran.err
    with serving({"/v1/me": (200, ME)}) as server:
        ran = run("login", "--url", server.url, env={"P13N_API_KEY": KEY})
    assert ran.code == 0, ran.err
    assert profiles.load("default") == profiles.Profile(server.url, KEY)


def test_login_refuses_a_server_that_is_not_the_admin_api(run: Runner) -> None:
    with serving({}, default=(200, "<html>welcome</html>")) as server:
        ran = run("login", "--url", server.url, env={"P13N_API_KEY": KEY})
    assert ran.code == 1
    assert "no account_id" in ran.err
    assert not profiles.profiles_file().exists()


def test_refusals_are_worded_p13n_not_error(run: Runner) -> None:
    ran = run("get", "events")
    assert ran.code == 1
    assert ran.err.startswith("p13n: not logged in"), ran.err


def test_an_os_error_is_a_message_not_a_traceback(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))  # the config "directory" is a file
    ran = run("logout")
    assert ran.code == 1
    assert ran.err.startswith(f"p13n: {blocker}/p13n/profiles.json: Not a directory"), ran.err


def _importing(tmp_path: Path) -> tuple[Path, dict[str, Answer]]:
    data = tmp_path / "in.jsonl"
    data.write_text('{"value": "c-1", "attributes": {"tier": "gold"}}\nnot json\n')
    routes: dict[str, Answer] = {
        "GET /v1/parent_segments": (200, SEGMENTS),
        "POST /v1/parent_segments/1/imports": (200, {}),
    }
    return data, routes


def test_an_unwritable_rejects_path_is_refused_before_anything_is_sent(
    run: Runner, tmp_path: Path
) -> None:
    data, routes = _importing(tmp_path)
    with serving(routes) as server:
        env = {"P13N_ADMIN_URL": server.url, "P13N_API_KEY": KEY}
        ran = run(
            "import",
            "attributes",
            str(data),
            "--key",
            "td_client_id",
            "--rejects",
            "/nonexistent/r",
            env=env,
        )
    assert ran.code == 2, ran.err
    assert "/nonexistent/r" in ran.err
    assert [seen.method for seen in server.seen] == ["GET"]


def test_the_rejects_file_is_owner_only(run: Runner, tmp_path: Path) -> None:
    data, routes = _importing(tmp_path)
    with serving(routes) as server:
        env = {"P13N_ADMIN_URL": server.url, "P13N_API_KEY": KEY}
        ran = run("import", "attributes", str(data), "--key", "td_client_id", env=env)
    assert ran.code == 1, ran.err
    rejects = tmp_path / "in.jsonl.rejects"
    assert "line 2" in rejects.read_text()
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600


def test_preview_refuses_an_event_without_a_visitor_and_a_non_utf8_file(
    run: Runner, tmp_path: Path
) -> None:
    env = {"P13N_ADMIN_URL": "http://127.0.0.1:9", "P13N_API_KEY": KEY}  # never called
    ran = run("preview", "greet", env=env)
    assert ran.code == 2
    assert "--visitor KEY=VALUE" in ran.err
    latin1 = tmp_path / "event.json"
    latin1.write_bytes('{"name": "Zoë"}'.encode("latin-1"))
    ran = run("preview", "greet", "--event", f"@{latin1}", env=env)
    assert ran.code == 2
    assert "not UTF-8" in ran.err


def test_bootstrap_asks_for_the_password_when_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    monkeypatch.delenv("P13N_PASSWORD", raising=False)
    monkeypatch.setenv("P13N_DATA_DIR", str(tmp_path))  # no suite there: fails after asking
    args = ["bootstrap", "--email", "o@example.com", "--account", "Shop"]
    result = CliRunner().invoke(cli.p13n, args, input="s3cret-pass\ns3cret-pass\n")
    assert "Password: " in result.output
    assert "Repeat for confirmation: " in result.output
    assert "s3cret-pass" not in result.output
    assert "Missing option" not in result.output
    monkeypatch.setenv("P13N_PASSWORD", "s3cret-pass")
    result = CliRunner().invoke(cli.p13n, args, input="")
    assert "Password: " not in result.output


def test_a_name_matching_two_parent_segments_is_refused_everywhere(run: Runner) -> None:
    # "2" is one's id and the other's name: neither may be picked silently.
    two = [
        {"id": "1", "name": "2", "reactor_id": "7"},
        {"id": "2", "name": "Shop", "reactor_id": "8"},
    ]
    with pytest.raises(LookupError, match="names 2 parent segments"):
        choose_parent_segment({"parent_segments": two}, "2", None)
    with serving({"/v1/parent_segments": (200, {"parent_segments": two})}) as server:
        env = {"P13N_ADMIN_URL": server.url, "P13N_API_KEY": KEY}
        ran = run("get", "events", "-s", "2", env=env)
    assert ran.code == 1
    assert "'2' names 2 parent segments" in ran.err


def test_the_doctors_visitor_fits_the_primary_keys_regex() -> None:
    assert visitor_for("", []) == "p13n-doctor"
    assert visitor_for("[a-z]+", []) == "doctor"
    assert visitor_for("[a-z0-9]+", []) == "p13ndoctor"
    assert visitor_for("[0-9]+", []) == "1300013"
    assert visitor_for("[a-z0-9-]+", ["p13n-doctor"]) == "p13ndoctor"
    assert visitor_for("M-[0-9]{4}", []) is None


def test_the_doctor_blames_no_service_when_the_url_is_not_a_gateway(run: Runner) -> None:
    with serving({}, default=(200, "<html>welcome</html>")) as server:
        env = {"P13N_ADMIN_URL": server.url, "P13N_API_KEY": KEY}
        ran = run("doctor", "--data-url", server.url, "-o", "json", env=env)
    assert ran.code == 1
    checks = {check["name"]: check["status"] for check in json.loads(ran.out)}
    assert checks.pop("gateway") == "fail"
    assert set(checks.values()) == {"skip"}
    assert [seen.path for seen in server.seen] == ["/v1/openapi.json"]


def test_the_doctor_reports_an_admin_api_lost_mid_run(run: Runner) -> None:
    routes = {"/v1/openapi.json": (200, {}), "/v1/me": (200, ME)}
    with serving(routes, default=b"", headers={"server": "p13n"}) as server:
        env = {"P13N_ADMIN_URL": server.url, "P13N_API_KEY": KEY}
        ran = run("doctor", "--data-url", server.url, "-o", "json", env=env)
    assert ran.code == 1, ran.err
    checks = {check["name"]: check for check in json.loads(ran.out)}
    assert checks["profile"]["status"] == "fail"
    assert "stopped answering" in checks["profile"]["detail"]
    assert checks["auth"]["status"] == "ok"
