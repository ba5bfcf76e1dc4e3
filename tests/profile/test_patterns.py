"""Event-filter and stitching-key regexes on RE2: linear time, refusals, stored leftovers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest

from services.profile import patterns
from services.profile.realtime import EventMatcher
from services.profile.stitching import StitchingKey

HOSTILE = textwrap.dedent(
    """
    from services.profile import patterns
    from services.profile.realtime import EventMatcher
    from services.profile.stitching import StitchingKey

    value = "a" * 64 * 1024 + "!"
    event = EventMatcher("hit", "db", "t", (("p", patterns.load("(a+)+$", "test")),))
    key = StitchingKey("user_id", regex="(a+)+$")
    print(event.matches("db", "t", {"p": value}), key.accepts(value), key.accepts("aaa"))
    """
)


def test_a_hostile_value_is_matched_in_linear_time() -> None:
    """``(a+)+$`` against ``a…a!`` backtracks exponentially in Python's ``re``.

    The match runs in a child process because a regex match holds the GIL: a thread's
    ``join(timeout)`` could not return before it. The timeout is generous, not a benchmark:
    on a backtracking engine the child would not finish at all.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", HOSTILE], capture_output=True, text=True, timeout=30, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]


@pytest.mark.parametrize(
    ("pattern", "refusal", "message"),
    [
        pytest.param(
            "(a",
            patterns.InvalidPattern,
            "missing ), unterminated subpattern at position 0",
            id="syntax-error-keeps-re-message",
        ),
        pytest.param(r"\pL", patterns.InvalidPattern, r"bad escape \p", id="re2-only-syntax"),
        pytest.param(
            r"(a)\1", patterns.UnsupportedPattern, r"invalid escape sequence: \1", id="backref"
        ),
        pytest.param(
            "(?P<x>a)(?P=x)",
            patterns.UnsupportedPattern,
            "invalid perl operator: (?P",
            id="named-backref",
        ),
        pytest.param("(?=a)a", patterns.UnsupportedPattern, "(?=", id="lookahead"),
        pytest.param("(?<!a)b", patterns.UnsupportedPattern, "(?<", id="lookbehind"),
        pytest.param("a{1001}", patterns.UnsupportedPattern, "{1001}", id="repeat-over-1000"),
    ],
)
def test_check_refuses(pattern: str, refusal: type[ValueError], message: str) -> None:
    with pytest.raises(refusal) as refused:
        patterns.check(pattern)
    assert message in str(refused.value)


@pytest.mark.parametrize("pattern", ["", "/products/.*", r"u[0-9]+", r"\d{3}-\w+", "(?i)ab|cd"])
def test_check_accepts(pattern: str) -> None:
    patterns.check(pattern)


def test_a_stored_pattern_re2_refuses_matches_nothing_and_names_its_owner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=patterns.__name__)
    event = EventMatcher("hit", "db", "t", (("p", patterns.load(r"(a)\1", "event 'hit'")),))
    key = StitchingKey("user_id", regex=r"(u)\1")

    assert not event.matches("db", "t", {"p": "aa"})  # Python's re would match
    assert not key.accepts("uu")
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == 2
    assert logged[0].startswith("event 'hit': stored regex is not supported by RE2")
    assert logged[1].startswith("stitching key 'user_id': stored regex is not supported by RE2")


def test_a_value_re2_cannot_encode_matches_nothing() -> None:
    lone_surrogate = "a\udc00"
    assert not patterns.fullmatches(patterns.load(".*", "test"), lone_surrogate)
    assert not StitchingKey("user_id", regex=".*").accepts(lone_surrogate)
