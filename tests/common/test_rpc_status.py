"""A domain error's wire form: status code, message, ErrorInfo, and BadRequest iff a field."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from services.common import errors
from services.common.rpc_status import (
    DETAILS_KEY,
    ERROR_DOMAIN,
    Details,
    details_of,
    grpc_code,
    rpc_code,
    status_details,
    status_of,
)

ERRORS = [
    pytest.param(errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT, id="invalid"),
    pytest.param(errors.NotFound, grpc.StatusCode.NOT_FOUND, id="not-found"),
    pytest.param(errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS, id="exists"),
    pytest.param(errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION, id="pre"),
    pytest.param(errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED, id="denied"),
    pytest.param(errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED, id="unauthn"),
    pytest.param(errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED, id="limit"),
    pytest.param(errors.Unavailable, grpc.StatusCode.UNAVAILABLE, id="unavailable"),
]


def _unpacked(status: status_pb2.Status) -> list[object]:
    found: list[object] = []
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            message = kind()
            if detail.Unpack(message):
                found.append(message)
    assert len(found) == len(status.details), "a detail of an unexpected type"
    return found


@pytest.mark.parametrize(("cls", "status_code"), ERRORS)
def test_each_class_becomes_its_status_code(
    cls: type[errors.P13nError], status_code: grpc.StatusCode
) -> None:
    assert grpc_code(cls.code) is status_code
    status = status_of(cls("What went wrong"))
    assert (status.code, status.message) == (status_code.value[0], "What went wrong")


@pytest.mark.parametrize(
    "field", [pytest.param("", id="no-field"), pytest.param("name", id="field")]
)
def test_error_info_always_and_a_field_violation_iff_a_field(field: str) -> None:
    error = errors.InvalidArgument(
        "Name can't be blank", field=field, reason="NAME_BLANK", metadata={"limit": "128"}
    )
    details = _unpacked(status_pb2.Status.FromString(status_details(error)))
    info = details[0]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("NAME_BLANK", ERROR_DOMAIN)
    expected = {"limit": "128", "field": field} if field else {"limit": "128"}
    assert dict(info.metadata) == expected
    if not field:
        assert len(details) == 1
        return
    assert len(details) == 2
    bad_request = details[1]
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    [violation] = bad_request.field_violations
    assert (violation.field, violation.description, violation.reason) == (
        "name",
        "Name can't be blank",
        "NAME_BLANK",
    )


def test_the_default_reason_is_the_code_name() -> None:
    info = error_details_pb2.ErrorInfo()
    assert status_of(errors.NotFound("gone")).details[0].Unpack(info)
    assert info.reason == "NOT_FOUND"


def test_every_code_converts_to_grpc_and_back() -> None:
    for number in code_pb2.Code.values():
        assert grpc_code(number).name == code_pb2.Code.Name(number)
        assert rpc_code(grpc_code(number)) == number


def _trailers(status: status_pb2.Status) -> tuple[tuple[str, str | bytes], ...]:
    return (("x-other", "v"), (DETAILS_KEY, status.SerializeToString()))


def test_details_read_back_what_was_written() -> None:
    error = errors.InvalidArgument(
        "bad", field="sections[0].name", reason="TAKEN", metadata={"owner": "Homepage"}
    )
    assert details_of(_trailers(status_of(error))) == Details(
        "TAKEN", "sections[0].name", {"owner": "Homepage"}
    )


def _packed(message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


@pytest.mark.parametrize(
    ("trailers", "expected"),
    [
        pytest.param(None, Details(), id="no-trailers"),
        pytest.param((("x-other", "v"),), Details(), id="no-details"),
        pytest.param(((DETAILS_KEY, b"\xff\xff"),), Details(), id="undecodable"),
        pytest.param(
            _trailers(
                status_pb2.Status(
                    details=[
                        _packed(error_details_pb2.ErrorInfo(reason="R", metadata={"field": "old"}))
                    ]
                )
            ),
            Details("R", "old"),
            id="field-in-error-info-only",
        ),
        pytest.param(
            _trailers(
                status_pb2.Status(
                    details=[
                        _packed(
                            error_details_pb2.BadRequest(
                                field_violations=[
                                    error_details_pb2.BadRequest.FieldViolation(field="a.b")
                                ]
                            )
                        )
                    ]
                )
            ),
            Details("", "a.b"),
            id="field-violation-without-error-info",
        ),
    ],
)
def test_details_of_what_a_callee_may_send(
    trailers: tuple[tuple[str, str | bytes], ...] | None, expected: Details
) -> None:
    assert details_of(trailers) == expected
