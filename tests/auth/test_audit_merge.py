"""The audit log's k-way merge: pages hold every entry of every service once, in order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from p13n.auth.v1 import audit_pb2

from services.auth import audit_merge
from services.common.errors import InvalidArgument

SOURCES = ["auth", "offers", "profile"]


def _stream(source: str, times: list[int]) -> list[audit_pb2.AuditEntry]:
    entries = []
    for number, t in enumerate(sorted(times), start=1):
        entry = audit_pb2.AuditEntry(id=f"{source}-{number}", source=source)
        entry.time.FromSeconds(t)
        entries.append(entry)
    return entries


def _read_all(streams: dict[str, list[audit_pb2.AuditEntry]], size: int) -> list[str]:
    """Pages as the service reads them: each source after its place, ``size + 1`` at most."""
    shown: list[str] = []
    token = ""
    while True:
        places = audit_merge.decode(token, SOURCES)
        found = {
            s: [e for e in streams[s] if audit_merge.number(e) > places[s]][: size + 1]
            for s in SOURCES
        }
        page, token = audit_merge.merge(found, places, size)
        assert len(page) <= size
        shown += [e.id for e in page]
        if not token:
            return shown


@given(
    st.fixed_dictionaries({s: st.lists(st.integers(0, 20), max_size=12) for s in SOURCES}),
    st.integers(1, 7),
)
def test_every_entry_is_shown_once_in_time_order(times: dict[str, list[int]], size: int) -> None:
    streams = {s: _stream(s, times[s]) for s in SOURCES}
    shown = _read_all(streams, size)
    every = sorted(
        (e for s in SOURCES for e in streams[s]),
        key=lambda e: (e.time.seconds, e.source, audit_merge.number(e)),
    )
    assert shown == [e.id for e in every]


def test_the_last_page_has_no_token() -> None:
    page, token = audit_merge.merge({"auth": _stream("auth", [1, 2])}, {"auth": 0}, 2)
    assert [e.id for e in page] == ["auth-1", "auth-2"]
    assert token == ""


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not base64!", id="not-base64"),
        pytest.param("bm90IGpzb24=", id="not-json"),
        pytest.param(audit_merge.encode({"auth": 1}), id="a-source-missing"),
        pytest.param(audit_merge.encode({"auth": -1, "offers": 0, "profile": 0}), id="negative"),
        pytest.param("WzEsMl0=", id="a-list"),
        pytest.param("eyJhdXRoIjoiMSIsIm9mZmVycyI6MCwicHJvZmlsZSI6MH0=", id="a-string-place"),
    ],
)
def test_a_tampered_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidArgument, match="Page token is invalid"):
        audit_merge.decode(token, SOURCES)


def test_a_token_round_trips() -> None:
    places = {"auth": 3, "offers": 0, "profile": 12}
    assert audit_merge.decode(audit_merge.encode(places), SOURCES) == places
