from __future__ import annotations

import pytest
from google.rpc import code_pb2

from services.auth import errors
from services.auth.errors import (
    AlreadyExists,
    AuthError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from services.common import errors as common

ALL_ERRORS = [
    pytest.param(InvalidArgument, common.InvalidArgument, "INVALID_ARGUMENT", id="invalid"),
    pytest.param(FailedPrecondition, common.FailedPrecondition, "FAILED_PRECONDITION", id="pre"),
    pytest.param(Unauthenticated, common.Unauthenticated, "UNAUTHENTICATED", id="unauthn"),
    pytest.param(PermissionDenied, common.PermissionDenied, "PERMISSION_DENIED", id="denied"),
    pytest.param(NotFound, common.NotFound, "NOT_FOUND", id="not-found"),
    pytest.param(AlreadyExists, common.AlreadyExists, "ALREADY_EXISTS", id="exists"),
    pytest.param(ResourceExhausted, common.ResourceExhausted, "RESOURCE_EXHAUSTED", id="limit"),
]


@pytest.mark.parametrize(("cls", "shared", "code"), ALL_ERRORS)
def test_each_error_is_the_shared_error_the_interceptor_maps(
    cls: type[AuthError], shared: type[common.P13nError], code: str
) -> None:
    assert issubclass(cls, AuthError)
    assert issubclass(cls, shared)
    assert cls.code == code_pb2.Code.Value(code)
    assert cls.default_reason == code


def test_every_error_class_is_listed() -> None:
    # The docstring draws the hierarchy; a class missing from it (or from the
    # table above) is a hierarchy nobody reviewed.
    subclasses = set(AuthError.__subclasses__())
    assert subclasses == {p.values[0] for p in ALL_ERRORS}
    assert errors.__doc__ is not None
    for cls in subclasses:
        assert f"── {cls.__name__} " in errors.__doc__
        assert cls.__name__ in errors.__all__


def test_invalid_argument_takes_the_field_first() -> None:
    error = InvalidArgument("name", "Name can't be blank", reason="NAME_BLANK")
    assert error.field == "name"
    assert error.message == "Name can't be blank"
    assert str(error) == "Name can't be blank"
    assert error.reason == "NAME_BLANK"


def test_defaults_and_metadata() -> None:
    metadata = {"limit": "50"}
    error = ResourceExhausted("Token limit reached", metadata=metadata)
    metadata["limit"] = "changed"
    assert error.field == ""
    assert error.reason == "RESOURCE_EXHAUSTED"
    assert error.metadata == {"limit": "50"}  # copied, not aliased


def test_permission_denied_says_the_designs_words_by_default() -> None:
    error = PermissionDenied(reason="ROLE_TOO_LOW")
    assert error.message == "You do not have permission to perform this action."
    assert error.reason == "ROLE_TOO_LOW"


def test_repr_shows_message_field_and_reason() -> None:
    error = InvalidArgument("type", "Service type cannot be changed", reason="X")
    assert repr(error) == (
        "InvalidArgument('Service type cannot be changed', field='type', reason='X')"
    )
