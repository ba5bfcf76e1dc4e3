"""The bench's preload as a client of the Ingest API: what it retries and what it refuses."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bench import preload
from bench.configure import Admin, Configured
from bench.http import Reply


def _setup() -> Configured:
    return Configured("1", "public-token", "write-key", Admin(0, "master-key"))


def _answering(monkeypatch: pytest.MonkeyPatch, statuses: list[int]) -> list[int]:
    """Every Ingest call answers the next of ``statuses``; returns the statuses sent."""
    sent: list[int] = []

    def call(*_args: Any, **_kwargs: Any) -> Reply:
        sent.append(statuses[len(sent)])
        return Reply(sent[-1], {}, b"{}")

    monkeypatch.setattr(preload, "call", call)
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    return sent


def test_a_batch_answered_503_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _answering(monkeypatch, [503, 503, 200])

    loaded = preload.ingest_profiles(0, _setup(), 0, 10, workers=1)

    assert sent == [503, 503, 200]
    assert loaded.records == 10


def test_a_batch_still_503_after_the_last_try_fails_the_preload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = _answering(monkeypatch, [503] * preload.UNAVAILABLE_TRIES)

    with pytest.raises(preload.PreloadError, match=r"^ingest -> 503"):
        preload.ingest_profiles(0, _setup(), 0, 10, workers=1)
    assert len(sent) == preload.UNAVAILABLE_TRIES


def test_another_refusal_is_not_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _answering(monkeypatch, [400])

    with pytest.raises(preload.PreloadError, match=r"^ingest -> 400"):
        preload.ingest_profiles(0, _setup(), 0, 10, workers=1)
    assert sent == [400]
