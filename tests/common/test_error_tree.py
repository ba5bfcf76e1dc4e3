"""The shared error tree: one code per class, and no grpc in the modules that raise them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from google.rpc import code_pb2

from services.common import errors

ROOT = Path(__file__).resolve().parents[2]

CLASSES = [
    pytest.param(errors.InvalidArgument, "INVALID_ARGUMENT", id="invalid"),
    pytest.param(errors.NotFound, "NOT_FOUND", id="not-found"),
    pytest.param(errors.AlreadyExists, "ALREADY_EXISTS", id="exists"),
    pytest.param(errors.FailedPrecondition, "FAILED_PRECONDITION", id="precondition"),
    pytest.param(errors.PermissionDenied, "PERMISSION_DENIED", id="denied"),
    pytest.param(errors.Unauthenticated, "UNAUTHENTICATED", id="unauthenticated"),
    pytest.param(errors.ResourceExhausted, "RESOURCE_EXHAUSTED", id="exhausted"),
    pytest.param(errors.Unavailable, "UNAVAILABLE", id="unavailable"),
]


@pytest.mark.parametrize(("cls", "code"), CLASSES)
def test_each_class_stands_for_its_google_rpc_code(cls: type[errors.P13nError], code: str) -> None:
    assert cls.code == code_pb2.Code.Value(code)
    assert cls.default_reason == code
    assert cls("m").reason == code


def test_every_class_is_listed_and_drawn_in_the_docstring() -> None:
    # Other packages specialise the tree; the classes this module defines are all listed.
    own = {c for c in errors.P13nError.__subclasses__() if c.__module__ == errors.__name__}
    assert own == {p.values[0] for p in CLASSES}
    assert errors.__doc__ is not None
    for param in CLASSES:
        cls, code = param.values
        assert isinstance(cls, type)
        assert f"── {cls.__name__} " in errors.__doc__
        assert f" {code} " in errors.__doc__


def test_one_keyword_only_signature_with_copied_metadata() -> None:
    metadata = {"limit": "50"}
    error = errors.ResourceExhausted("Too many", field="tokens", reason="LIMIT", metadata=metadata)
    metadata["limit"] = "changed"
    assert (error.message, str(error), error.field, error.reason) == (
        "Too many",
        "Too many",
        "tokens",
        "LIMIT",
    )
    assert error.metadata == {"limit": "50"}
    assert errors.PermissionDenied().message == errors.PERMISSION_DENIED_MESSAGE


@pytest.mark.parametrize(
    "module",
    [
        pytest.param("services.common.errors", id="common-errors"),
        pytest.param("services.common.status_codes", id="status-codes"),
        pytest.param("services.offers.errors", id="offers-errors"),
        # The pure domain modules that raise them: they must stay free of grpc too.
        *(
            pytest.param(f"services.{name}", id=name.split(".")[1])
            for name in (
                "common.names",
                "auth.validation",
                "profile.config_rules",
                "profile.stitching",
                "profile.attributes",
                "offers.engine",
                "offers.criteria",
                "offers.redaction",
                "offers.rendering",
            )
        ),
    ],
)
def test_the_error_modules_import_no_grpc(module: str) -> None:
    # A fresh interpreter in which importing grpc fails: the module must load all the same.
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["grpc"] = None
        import {module}
        assert not any(name == "grpc" or name.startswith("grpc.") for name in sys.modules
                       if sys.modules[name] is not None), "grpc was imported"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_check_above_would_see_a_grpc_import() -> None:
    # The same blocking, on a module that does import grpc: it must fail, or the test above
    # proves nothing.
    script = 'import sys; sys.modules["grpc"] = None; import services.common.rpc_status'
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "grpc" in result.stderr


def test_a_parent_segment_not_found_reads_the_same_everywhere() -> None:
    error = errors.parent_segment_not_found("12")
    assert isinstance(error, errors.NotFound)
    assert error.message == "Parent segment '12' not found"
