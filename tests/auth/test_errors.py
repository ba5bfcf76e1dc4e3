"""The auth service raises the suite's one error tree, with its one signature.

Auth once had its own tree (``services/auth/errors.py``) whose ``InvalidArgument`` took
``(field, message)``; it is folded into ``services.common.errors``. These tests keep what
the old ones asserted about auth's errors, now about the shared classes auth raises.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest
from google.rpc import code_pb2

import services.auth
from services.auth import passwords, validation
from services.common import errors as common
from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)

# Every class the auth service raises, with the status the interceptor gives it.
AUTH_ERRORS = [
    pytest.param(InvalidArgument, "INVALID_ARGUMENT", id="invalid"),
    pytest.param(FailedPrecondition, "FAILED_PRECONDITION", id="pre"),
    pytest.param(Unauthenticated, "UNAUTHENTICATED", id="unauthn"),
    pytest.param(PermissionDenied, "PERMISSION_DENIED", id="denied"),
    pytest.param(NotFound, "NOT_FOUND", id="not-found"),
    pytest.param(AlreadyExists, "ALREADY_EXISTS", id="exists"),
    pytest.param(ResourceExhausted, "RESOURCE_EXHAUSTED", id="limit"),
]


def _auth_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"services.auth.{info.name}")
        for info in pkgutil.iter_modules(services.auth.__path__)
        if info.name != "__main__"
    ]


@pytest.mark.parametrize(("cls", "code"), AUTH_ERRORS)
def test_each_error_is_the_shared_error_the_interceptor_maps(
    cls: type[common.P13nError], code: str
) -> None:
    assert issubclass(cls, common.P13nError)
    assert cls.code == code_pb2.Code.Value(code)
    assert cls.default_reason == code


@pytest.mark.parametrize("cls", [pytest.param(p.values[0], id=p.id) for p in AUTH_ERRORS])
def test_every_error_class_is_drawn_in_the_shared_hierarchy(cls: type[common.P13nError]) -> None:
    # The shared docstring draws the hierarchy; a class missing from it is a hierarchy
    # nobody reviewed.
    assert common.__doc__ is not None
    assert f"── {cls.__name__} " in common.__doc__


def test_auth_has_no_error_tree_of_its_own() -> None:
    modules = _auth_modules()
    assert "errors" not in {m.__name__.rpartition(".")[2] for m in modules}
    for module in modules:
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException):
                # Any error class an auth module names is either the shared tree's, or not
                # a caller's mistake at all (DecryptionFailed must surface as INTERNAL).
                assert value.__module__ != module.__name__ or not issubclass(
                    value, common.P13nError
                ), f"{module.__name__}.{name} forks the shared error tree"


def test_invalid_argument_takes_the_message_first_and_the_field_by_keyword() -> None:
    error = InvalidArgument("Name can't be blank", field="name", reason="NAME_BLANK")
    assert error.field == "name"
    assert error.message == "Name can't be blank"
    assert str(error) == "Name can't be blank"
    assert error.reason == "NAME_BLANK"
    with pytest.raises(TypeError):
        InvalidArgument("Name can't be blank", "name")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("call", "field", "message", "reason"),
    [
        pytest.param(
            lambda: validation.validate_name(" ", []),
            "name",
            "Name can't be blank",
            "NAME_BLANK",
            id="name",
        ),
        pytest.param(
            lambda: validation.check_service_type_unchanged(
                validation.ServiceType.PUBLIC, validation.ServiceType.PRIVATE
            ),
            "type",
            "Service type cannot be changed",
            "SERVICE_TYPE_IMMUTABLE",
            id="type",
        ),
        pytest.param(
            lambda: passwords.check_password_policy(""),
            *("password", "Password can't be blank", "PASSWORD_BLANK"),
            id="password",
        ),
    ],
)
def test_auth_raise_sites_keep_field_and_message_apart(
    call: object, field: str, message: str, reason: str
) -> None:
    # The old signature was (field, message): a swapped call would put one in the other.
    assert callable(call)
    with pytest.raises(InvalidArgument) as caught:
        call()
    assert (caught.value.field, caught.value.message, caught.value.reason) == (
        field,
        message,
        reason,
    )


def test_defaults_and_metadata() -> None:
    metadata = {"limit": "50"}
    error = ResourceExhausted("Token limit reached", metadata=metadata)
    metadata["limit"] = "changed"
    assert error.field == ""
    assert error.reason == "RESOURCE_EXHAUSTED"
    assert error.metadata == {"limit": "50"}  # copied, not aliased


def test_name_too_long_keeps_its_maximum_in_metadata() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validation.validate_name("a" * 101, [])
    assert caught.value.metadata == {"maximum": "100"}


def test_permission_denied_says_the_designs_words_by_default() -> None:
    error = PermissionDenied(reason="ROLE_TOO_LOW")
    assert error.message == "You do not have permission to perform this action."
    assert error.reason == "ROLE_TOO_LOW"


def test_repr_shows_message_field_and_reason() -> None:
    error = InvalidArgument("Service type cannot be changed", field="type", reason="X")
    assert repr(error) == (
        "InvalidArgument('Service type cannot be changed', field='type', reason='X')"
    )
