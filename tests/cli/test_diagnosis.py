"""The doctor's judgements on replies built by hand: which service a reply blames, when the
clock is too far off, what a CORS answer means, which parent segment the event goes to."""

from __future__ import annotations

import email.utils
import json
from pathlib import Path
from typing import Any

import pytest

from services.cli.diagnosis import (
    judge_auth,
    judge_clock,
    judge_cors,
    judge_cors_refusal,
    judge_event,
    judge_key,
    judge_service,
)
from services.cli.doctor import choose_parent_segment, default_data_url
from services.cli.probe import Reply
from services.common import running
from services.common.config import Settings

SERVER_TIME = 1_800_000_000.0  # a whole second, as a Date header carries
DATE = email.utils.formatdate(SERVER_TIME, usegmt=True)
ORIGIN = "https://shop.example"


def _reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, headers or {}, json.dumps(body or {}).encode())


def _error(status: int, message: str, reason: str | None = None) -> Reply:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return _reply(status, {"code": 14, "message": message, "details": details if reason else []})


@pytest.mark.parametrize(
    ("local_offset", "status", "words"),
    [
        pytest.param(0.0, "ok", "within 5 s", id="same"),
        # Date has whole seconds: 0.9 s after it is still the same second, no skew at all.
        pytest.param(0.9, "ok", "within 5 s", id="inside-the-second"),
        pytest.param(5.5, "ok", "within 5 s", id="4.5-ahead"),
        pytest.param(10.0, "warn", "9 s ahead of", id="ahead"),
        pytest.param(-8.0, "warn", "8 s behind", id="behind"),
    ],
)
def test_the_clock_warns_past_five_seconds_of_skew(
    local_offset: float, status: str, words: str
) -> None:
    # The request took 0.2 s; its midpoint is the local time compared.
    local = SERVER_TIME + local_offset
    check = judge_clock(DATE, local - 0.1, local + 0.1)
    assert check.status == status, check
    assert words in check.detail
    assert check.ok, "a skew is a warning, not a failure"
    assert ("timedatectl" in check.hint) is (status == "warn")


def test_the_clock_is_skipped_without_a_date() -> None:
    assert judge_clock(None, SERVER_TIME, SERVER_TIME).status == "skip"
    assert judge_clock("yesterday", SERVER_TIME, SERVER_TIME).status == "skip"


@pytest.mark.parametrize(
    ("reply", "status", "words"),
    [
        pytest.param(_reply(200), "ok", "answered", id="200"),
        pytest.param(_error(404, "Parent segment '0' not found"), "ok", "HTTP 404", id="own-404"),
        pytest.param(
            _error(503, "A p13n service is unavailable; retry shortly"),
            "fail",
            "no answer from the offers service",
            id="unreachable",
        ),
        pytest.param(
            _error(503, "The profile service did not answer", "PROFILE_UNAVAILABLE"),
            "fail",
            "cannot reach the profile service",
            id="its-dependency",
        ),
        pytest.param(_error(401, "Unknown credentials"), "skip", "cannot tell", id="refused"),
        pytest.param(_error(500, "Internal error"), "fail", "failed", id="internal"),
    ],
)
def test_a_reply_blames_the_service_that_failed(reply: Reply, status: str, words: str) -> None:
    check = judge_service("offers", "GET personalizations", reply)
    assert (check.name, check.status) == ("offers", status), check
    assert words in check.detail


def test_a_dependency_named_in_the_reason_gets_the_hint() -> None:
    reply = _error(503, "The profile service did not answer", "PROFILE_UNAVAILABLE")
    check = judge_service("offers", "GET personalizations", reply)
    assert "P13N_PROFILE_TARGET" in check.hint
    assert "p13n-profile" in check.hint


def test_an_event_the_page_cannot_read_fails() -> None:
    unreadable = _reply(200, {"offers": {}})
    check = judge_event(ORIGIN, "/public/db/t", unreadable, "allow it")
    assert (check.status, check.hint) == ("fail", "allow it")
    assert "Access-Control-Allow-Origin is absent" in check.detail
    readable = _reply(200, {"offers": {"a": {}}}, {"access-control-allow-origin": ORIGIN})
    check = judge_event(ORIGIN, "/public/db/t", readable, "allow it")
    assert check.status == "ok"
    assert "1 offer section" in check.detail


def test_an_event_refused_for_its_origin_says_how_to_allow_it() -> None:
    refused = _error(403, "Origin is not allowed for this token's service")
    check = judge_event(ORIGIN, "/public/db/t", refused, "add it")
    assert check.status == "fail"
    assert f"{ORIGIN} is refused" in check.detail
    assert check.hint == "add it"


def test_cors_wants_the_origin_echoed() -> None:
    echoed = _reply(204, headers={"access-control-allow-origin": ORIGIN})
    assert judge_cors(ORIGIN, echoed, "add it").status == "ok"
    star = _reply(204, headers={"access-control-allow-origin": "*"})
    check = judge_cors(ORIGIN, star, "add it")
    assert (check.status, check.hint) == ("fail", "add it")


def test_a_cors_header_for_an_origin_allowed_nowhere_fails() -> None:
    assert judge_cors_refusal("https://x.invalid", _error(403, "Origin is not allowed")).ok
    leaked = _reply(204, headers={"access-control-allow-origin": "https://x.invalid"})
    check = judge_cors_refusal("https://x.invalid", leaked)
    assert check.status == "fail"
    assert "access-control-allow-origin" in check.detail


SEGMENTS = {
    "parent_segments": [
        {"id": "1", "name": "Shoppers", "reactor_id": "7"},
        {"id": "2", "name": "Readers", "reactor_id": "8"},
    ]
}


def test_the_parent_segment_is_named_or_the_tokens_or_the_only_one() -> None:
    assert choose_parent_segment(SEGMENTS, "Readers", None) == "2"
    assert choose_parent_segment(SEGMENTS, "1", "3/8/secret") == "1"
    assert choose_parent_segment(SEGMENTS, None, "3/8/secret") == "2"
    only = {"parent_segments": SEGMENTS["parent_segments"][:1]}
    assert choose_parent_segment(only, None, None) == "1"
    with pytest.raises(LookupError, match="'Shoppers', 'Readers'"):
        choose_parent_segment(SEGMENTS, None, None)
    with pytest.raises(LookupError, match="no parent segment has the id or name 'Other'"):
        choose_parent_segment(SEGMENTS, "Other", None)


def test_the_data_listener_is_the_running_suites_else_the_admin_hosts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("P13N_DATA_PORT", raising=False)
    env = {"P13N_ADMIN_PORT": "18081", "P13N_DATA_PORT": "18080", "P13N_DATA_DIR": str(tmp_path)}
    with running.recorded(Settings.from_env(env)):
        assert default_data_url("http://127.0.0.1:18081") == "http://127.0.0.1:18080"
        # Another suite's admin port, or another machine: the default data port there.
        assert default_data_url("http://127.0.0.1:28081") == "http://127.0.0.1:8080"
        assert default_data_url("https://p13n.example:8081") == "https://p13n.example:8080"


@pytest.mark.parametrize(
    ("me", "auth", "key"),
    [
        pytest.param(_reply(200, {"account_id": "3", "role": "ADMIN"}), "ok", "ok", id="valid"),
        # A refused key is the auth service's own answer: auth is up, the key is wrong.
        pytest.param(_error(401, "Unknown or expired credentials"), "ok", "fail", id="bad-key"),
        pytest.param(
            _error(503, "The authorization service is unavailable"), "fail", "skip", id="auth-down"
        ),
    ],
)
def test_get_me_tells_auth_from_the_key(me: Reply, auth: str, key: str) -> None:
    assert (judge_auth(me).status, judge_key(me).status) == (auth, key)
