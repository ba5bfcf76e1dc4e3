"""Clients that send events through the gateway and log every answer, as a site would see.

Each client is a thread with one keep-alive connection (reopened after a failure), sending
one event at a time until the deadline. Every event carries a unique ``event_uid``, so the
log can be compared with what the store holds: an event is *acknowledged* only when the
gateway answered 200 with the path's success body. A request that failed may or may not
have been stored (it can fail after its commit); it is never sent again, so any ``event_uid``
stored twice is a duplicate made by the system, not by the client.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

UID = "event_uid"


@dataclass(frozen=True)
class Planned:
    """What a client sends: to which path, with which headers, which event."""

    path: str
    headers: dict[str, str]
    event: dict[str, Any]
    wrap: bool = False  # the Ingest API takes {"records": [event]}


@dataclass(frozen=True)
class Sent:
    uid: str
    event: dict[str, Any]
    path: str
    started: float  # time.monotonic()
    ended: float
    status: int | None  # None: no HTTP answer at all (the connection failed)
    acknowledged: bool
    error: str = ""  # a failure's body (its start) or exception, for the failure message


def _acknowledged(planned: Planned, status: int, body: bytes) -> bool:
    if status != 200:
        return False
    answer = json.loads(body)
    return bool(answer.get("received") == 1) if planned.wrap else "offers" in answer


def _client(
    port: int,
    plan: Callable[[random.Random], Planned],
    seed: int,
    deadline: float,
    log: list[Sent],
) -> None:
    rng = random.Random(seed)
    connection: http.client.HTTPConnection | None = None
    while time.monotonic() < deadline:
        planned = plan(rng)
        event = {**planned.event, UID: uuid.uuid4().hex}
        body = json.dumps({"records": [event]} if planned.wrap else event)
        headers = {"content-type": "application/json", **planned.headers}
        started = time.monotonic()
        status: int | None = None
        acknowledged = False
        error = ""
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", planned.path, body=body, headers=headers)
            reply = connection.getresponse()
            answer = reply.read()
            status = reply.status
            acknowledged = _acknowledged(planned, status, answer)
            if not acknowledged:
                error = answer[:300].decode(errors="replace")
            if reply.will_close:
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException) as failure:
            error = repr(failure)
            if connection is not None:
                connection.close()
            connection = None
        ended = time.monotonic()
        log.append(
            Sent(event[UID], event, planned.path, started, ended, status, acknowledged, error)
        )
    if connection is not None:
        connection.close()


def run_clients(
    port: int, clients: int, seconds: float, plan: Callable[[random.Random], Planned]
) -> list[Sent]:
    """``clients`` threads sending ``plan``'s events for ``seconds``; every answer, logged."""
    log: list[Sent] = []  # list.append is atomic: the threads share it
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(port, plan, seed, deadline, log), daemon=True)
        for seed in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    return log


@dataclass(frozen=True)
class Episode:
    """A run of failed answers with no success-free gap over ``gap`` seconds between them."""

    start: float
    end: float
    count: int

    @property
    def seconds(self) -> float:
        return self.end - self.start


def episodes(times: list[float], gap: float = 0.5) -> list[Episode]:
    """Groups the times of failed answers into episodes (sorted, none closer than ``gap``)."""
    found: list[Episode] = []
    for at in sorted(times):
        if found and at - found[-1].end <= gap:
            last = found[-1]
            found[-1] = Episode(last.start, at, last.count + 1)
        else:
            found.append(Episode(at, at, 1))
    return found
