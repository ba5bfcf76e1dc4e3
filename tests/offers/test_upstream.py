"""How long calls to other services may take, and what their failures become."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from services.common import errors
from services.common.rpc_status import DETAILS_KEY, status_details
from services.offers.upstream import DEFAULT_BUDGET, MARGIN, Deadline, failure


class _Context:
    def __init__(self, remaining: float | None, metadata: tuple[tuple[str, str], ...] = ()):
        self._remaining = remaining
        self._metadata = metadata

    def time_remaining(self) -> float | None:
        return self._remaining

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


_ENVOY = "x-envoy-expected-rq-timeout-ms"


@pytest.mark.parametrize(
    ("context", "budget"),
    [
        pytest.param(_Context(2.0), 2.0, id="grpc-deadline"),
        pytest.param(_Context(None, ((_ENVOY, "3000"),)), 3.0, id="envoy-route-timeout"),
        pytest.param(_Context(None, ((_ENVOY, "600000"),)), DEFAULT_BUDGET, id="never-longer"),
        pytest.param(_Context(None, ((_ENVOY, "soon"),)), DEFAULT_BUDGET, id="malformed"),
        pytest.param(_Context(None), DEFAULT_BUDGET, id="no-deadline"),
    ],
)
def test_a_call_gets_the_remaining_budget_less_a_margin(context: Any, budget: float) -> None:
    timeout = Deadline.of(context).timeout()
    # The computation itself takes a moment; nothing here depends on the machine's speed.
    assert budget - MARGIN - 0.5 < timeout <= budget - MARGIN


def test_a_nearly_spent_deadline_keeps_half_for_the_answer() -> None:
    timeout = Deadline.of(_Context(0.05)).timeout()
    assert 0 < timeout <= 0.025


class _Error(grpc.aio.AioRpcError):  # type: ignore[misc]
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        pytest.param(grpc.StatusCode.UNAVAILABLE, errors.Unavailable, id="unavailable"),
        pytest.param(grpc.StatusCode.DEADLINE_EXCEEDED, errors.Unavailable, id="deadline"),
        pytest.param(grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidArgument, id="invalid"),
        pytest.param(grpc.StatusCode.NOT_FOUND, errors.NotFound, id="not-found"),
        pytest.param(grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhausted, id="limited"),
    ],
)
def test_failures_become_what_they_mean_for_the_request(
    code: grpc.StatusCode, kind: type[Exception]
) -> None:
    mapped = failure(_Error(code, "what the callee said"), "profile")
    assert isinstance(mapped, kind)
    if kind is not errors.Unavailable:
        assert str(mapped) == "what the callee said"


def test_an_unexpected_failure_is_not_blamed_on_the_client() -> None:
    error = _Error(grpc.StatusCode.INTERNAL, "boom")
    assert failure(error, "profile") is error


def test_an_outage_says_which_service_in_its_message_and_reason() -> None:
    mapped = failure(_Error(grpc.StatusCode.DEADLINE_EXCEEDED, "late"), "profile")
    assert isinstance(mapped, errors.Unavailable)
    assert (mapped.message, mapped.reason) == (
        "The profile service did not answer in time; retry shortly",
        "PROFILE_UNAVAILABLE",
    )


def test_a_verdict_keeps_the_callees_reason_and_field() -> None:
    sent = errors.InvalidArgument("not an event table", field="table", reason="UNKNOWN_TABLE")
    trailers = grpc.aio.Metadata((DETAILS_KEY, status_details(sent)))
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), trailers, "not an event table"
    )
    mapped = failure(error, "profile")
    assert isinstance(mapped, errors.InvalidArgument)
    assert (mapped.message, mapped.reason, mapped.field) == (
        "not an event table",
        "UNKNOWN_TABLE",
        "table",
    )
