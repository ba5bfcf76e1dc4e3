"""The wire form of a domain error: a ``google.rpc.Status`` with AIP-193 details.

This is the one module that maps ``P13nError`` to gRPC, both ways:

- out: ``status_of`` builds the ``google.rpc.Status`` the interceptor sends in
  ``grpc-status-details-bin``: an ``ErrorInfo`` (reason, domain, metadata) always and,
  when the error names a request field, a ``BadRequest`` whose ``FieldViolation`` says
  which field, why (the message) and the same reason. Envoy's transcoder prints both in
  the JSON body's ``details`` (error_details.proto is in its descriptor set). The field
  stays in ``ErrorInfo.metadata["field"]`` too, which clients already read.
- in: ``details_of`` reads the same details back from a call to another service, so a
  verdict passed on keeps the callee's reason and field.

The codes inside are ``google.rpc.code_pb2`` numbers; ``grpc_code`` and ``rpc_code``
convert between those and ``grpc.StatusCode``, which share their numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from services.common.errors import P13nError

ERROR_DOMAIN = "p13n.dev"
DETAILS_KEY = "grpc-status-details-bin"

_BY_NUMBER: Mapping[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


def grpc_code(code: int) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` of a ``google.rpc.Code`` number (UNKNOWN if there is none)."""
    return _BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)


def rpc_code(code: grpc.StatusCode) -> int:
    """The ``google.rpc.Code`` number of a ``grpc.StatusCode``."""
    number: int = code.value[0]
    return number


def _packed(detail: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return packed


def status_of(error: P13nError) -> status_pb2.Status:
    """The ``google.rpc.Status`` that tells a client what ``error`` means."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    info.metadata.update(error.metadata)
    details = [info]
    if error.field:
        info.metadata["field"] = error.field
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=error.field, description=error.message, reason=error.reason
        )
        details.append(error_details_pb2.BadRequest(field_violations=[violation]))
    return status_pb2.Status(
        code=error.code, message=error.message, details=[_packed(d) for d in details]
    )


def as_transcoder_prints(status: status_pb2.Status) -> dict[str, Any]:
    """``status`` as Envoy's transcoder prints a service's status in a JSON body: names as
    in the proto, empty maps and lists included."""
    printed = json_format.MessageToDict(
        status, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    printed.setdefault("details", [])
    return printed


def status_details(error: P13nError) -> bytes:
    """The serialized ``google.rpc.Status`` carried in ``grpc-status-details-bin``."""
    serialized: bytes = status_of(error).SerializeToString()
    return serialized


@dataclasses.dataclass(frozen=True)
class Details:
    """What a callee's status details say: its reason, the field at fault, the rest."""

    reason: str = ""
    field: str = ""
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)


def details_of(trailing_metadata: Iterable[tuple[str, str | bytes]] | None) -> Details:
    """The ``ErrorInfo`` and ``BadRequest`` in a call's trailing metadata, if it sent any.

    The field comes from the first ``FieldViolation``, else from ``ErrorInfo.metadata``;
    undecodable details count as none, since they only ever add to the status code.
    """
    for key, value in trailing_metadata or ():
        if key != DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:
            return Details()
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        for detail in status.details:
            if detail.Is(info.DESCRIPTOR):
                detail.Unpack(info)
            elif detail.Is(bad_request.DESCRIPTOR):
                detail.Unpack(bad_request)
        metadata = dict(info.metadata)
        named = metadata.pop("field", "")
        violations = bad_request.field_violations
        return Details(info.reason, violations[0].field if violations else named, metadata)
    return Details()
