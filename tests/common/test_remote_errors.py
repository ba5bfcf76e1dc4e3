"""The one translator of another service's failures."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2

from services.common import errors
from services.common.remote_errors import (
    PASSED_ON,
    Received,
    Rule,
    translate,
    unavailable,
)
from services.common.rpc_status import DETAILS_KEY, status_details

DOWN = "The callee cannot answer; retry shortly"


class _Error(grpc.aio.AioRpcError):  # type: ignore[misc]
    """A failed call as grpc.aio raises it, with the callee's status details if any."""

    def __init__(
        self, code: grpc.StatusCode, details: str, sent: errors.P13nError | None = None
    ) -> None:
        trailers = grpc.aio.Metadata()
        if sent is not None:
            trailers.add(DETAILS_KEY, status_details(sent))
        super().__init__(code, grpc.aio.Metadata(), trailers, details)


def _translated(error: _Error) -> Exception:
    return translate(error, outage=unavailable(DOWN, reason="CALLEE_UNAVAILABLE"))


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(grpc.StatusCode.UNAVAILABLE, id="unavailable"),
        pytest.param(grpc.StatusCode.DEADLINE_EXCEEDED, id="deadline"),
        pytest.param(grpc.StatusCode.CANCELLED, id="cancelled"),
    ],
)
def test_an_outage_is_the_callers_unavailable(code: grpc.StatusCode) -> None:
    first, second = _translated(_Error(code, "x")), _translated(_Error(code, "x"))
    assert isinstance(first, errors.Unavailable)
    assert (first.message, first.reason) == (DOWN, "CALLEE_UNAVAILABLE")
    assert first is not second  # a fresh error per failure: raised errors carry state


VERDICTS: dict[grpc.StatusCode, type[errors.P13nError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
}


@pytest.mark.parametrize(
    ("code", "kind"), [pytest.param(c, k, id=c.name.lower()) for c, k in VERDICTS.items()]
)
def test_a_verdict_is_passed_on_with_the_callees_words_reason_and_field(
    code: grpc.StatusCode, kind: type[errors.P13nError]
) -> None:
    sent = kind("what the callee said", field="event", reason="BAD_EVENT", metadata={"max": "32"})
    passed = _translated(_Error(code, "what the callee said", sent))
    assert type(passed) is kind
    assert isinstance(passed, errors.P13nError)
    assert (passed.message, passed.reason, passed.field) == (
        "what the callee said",
        "BAD_EVENT",
        "event",
    )
    assert passed.metadata == {"max": "32"}


def test_a_verdict_without_details_keeps_the_default_reason() -> None:
    passed = _translated(_Error(grpc.StatusCode.NOT_FOUND, "no such table"))
    assert isinstance(passed, errors.NotFound)
    assert (passed.message, passed.reason, passed.field) == ("no such table", "NOT_FOUND", "")


def test_a_verdict_without_a_message_names_its_code() -> None:
    passed = _translated(_Error(grpc.StatusCode.INVALID_ARGUMENT, ""))
    assert str(passed) == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(grpc.StatusCode.INTERNAL, id="internal"),
        pytest.param(grpc.StatusCode.UNKNOWN, id="unknown"),
        pytest.param(grpc.StatusCode.UNIMPLEMENTED, id="unimplemented"),
        pytest.param(grpc.StatusCode.ALREADY_EXISTS, id="not-a-verdict-here"),
    ],
)
def test_anything_else_is_the_error_itself_so_it_answers_internal(
    code: grpc.StatusCode,
) -> None:
    error = _Error(code, "boom")
    assert _translated(error) is error


def _parent_segment_lookup(error: _Error, parent_segment_id: str) -> Exception:
    # How auth's lookup of a parent segment's reactor reads the profile service.
    down = unavailable("The profile service cannot answer; retry shortly")
    missing: dict[int, Rule] = {
        code_pb2.NOT_FOUND: lambda _: errors.NotFound(
            f"Parent segment {parent_segment_id!r} not found"
        )
    }
    return translate(error, outage=down, verdicts=missing, otherwise=down)


@pytest.mark.parametrize(
    ("code", "kind", "message"),
    [
        pytest.param(grpc.StatusCode.NOT_FOUND, errors.NotFound, "Parent segment '7' not found"),
        pytest.param(
            grpc.StatusCode.PERMISSION_DENIED,
            errors.Unavailable,
            "The profile service cannot answer; retry shortly",
            id="other-verdict",
        ),
        pytest.param(
            grpc.StatusCode.INTERNAL,
            errors.Unavailable,
            "The profile service cannot answer; retry shortly",
            id="fault",
        ),
        pytest.param(
            grpc.StatusCode.UNAVAILABLE,
            errors.Unavailable,
            "The profile service cannot answer; retry shortly",
            id="outage",
        ),
    ],
)
def test_a_caller_can_word_verdicts_and_the_rest_itself(
    code: grpc.StatusCode, kind: type[errors.P13nError], message: str
) -> None:
    translated = _parent_segment_lookup(_Error(code, "callee words"), "7")
    assert type(translated) is kind
    assert str(translated) == message


def test_a_callers_verdict_comes_before_the_outage_rule() -> None:
    quiet: dict[int, Rule] = {**PASSED_ON, code_pb2.CANCELLED: lambda received: received.error}
    error = _Error(grpc.StatusCode.CANCELLED, "cancelled")
    assert translate(error, outage=unavailable(DOWN), verdicts=quiet) is error


def test_received_reads_the_callees_status() -> None:
    sent = errors.InvalidArgument("bad", field="f", reason="R")
    received = Received.of(_Error(grpc.StatusCode.INVALID_ARGUMENT, "bad", sent))
    assert (received.code, received.message, received.reason, received.field) == (
        code_pb2.INVALID_ARGUMENT,
        "bad",
        "R",
        "f",
    )
