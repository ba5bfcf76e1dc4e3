"""The one HTTP <-> google.rpc.Code table."""

from __future__ import annotations

import pytest
from google.rpc import code_pb2

from services.common.status_codes import (
    CODE_FOR_HTTP_STATUS,
    HTTP_STATUS,
    code_for_http_status,
)

# What the ext_authz refusals and the gateway's local replies carried before the table
# was one: the same numbers, now from one place.
BEFORE = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    405: 12,
    408: 4,
    413: 3,
    415: 3,
    429: 8,
    431: 3,
    500: 13,
    502: 14,
    503: 14,
    504: 4,
}


def test_every_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(code_pb2.Code.values())
    for code in code_pb2.Code.values():
        assert 200 <= HTTP_STATUS[code] <= 599


@pytest.mark.parametrize(
    ("code", "status"),
    [
        pytest.param(code_pb2.INVALID_ARGUMENT, 400, id="invalid"),
        pytest.param(code_pb2.FAILED_PRECONDITION, 400, id="precondition"),
        pytest.param(code_pb2.UNAUTHENTICATED, 401, id="unauthenticated"),
        pytest.param(code_pb2.PERMISSION_DENIED, 403, id="denied"),
        pytest.param(code_pb2.NOT_FOUND, 404, id="not-found"),
        pytest.param(code_pb2.ALREADY_EXISTS, 409, id="exists"),
        pytest.param(code_pb2.RESOURCE_EXHAUSTED, 429, id="exhausted"),
        pytest.param(code_pb2.INTERNAL, 500, id="internal"),
        pytest.param(code_pb2.UNAVAILABLE, 503, id="unavailable"),
        pytest.param(code_pb2.DEADLINE_EXCEEDED, 504, id="deadline"),
    ],
)
def test_the_statuses_the_suites_errors_have_at_the_gateway(code: int, status: int) -> None:
    # Envoy's transcoder applies google/rpc/code.proto's mapping; the e2e tests see these.
    assert HTTP_STATUS[code] == status


def test_the_codes_error_bodies_carried_are_unchanged() -> None:
    assert {status: code_for_http_status(status) for status in BEFORE} == BEFORE


def test_a_status_means_the_code_that_answers_with_it() -> None:
    # Where a status is some code's answer, reading it back gives a code with that answer.
    for status, code in CODE_FOR_HTTP_STATUS.items():
        if status in HTTP_STATUS.values():
            assert HTTP_STATUS[code] == status, status


def test_a_status_nobody_mapped_is_unknown() -> None:
    assert code_for_http_status(418) == code_pb2.UNKNOWN
