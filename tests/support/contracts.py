"""The contracts as the gateway reads them: the descriptor set and its admin API bindings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

import services


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """services/_gen/p13n.binpb, the file Envoy's transcoder and the auth service read."""
    with open(services.__path__[0] + "/_gen/p13n.binpb", "rb") as f:
        return descriptor_pb2.FileDescriptorSet.FromString(f.read())


@dataclass(frozen=True)
class AdminRule:
    """One RPC bound to an admin API path (``/v1/...``)."""

    package: str
    service: descriptor_pb2.ServiceDescriptorProto
    method: descriptor_pb2.MethodDescriptorProto
    rule: http_pb2.HttpRule
    verb: str  # GET, POST, PATCH, DELETE
    path: str  # the template, e.g. /v1/parent_segments/{parent_segment_id}/services


def admin_rules(files: descriptor_pb2.FileDescriptorSet) -> Iterator[AdminRule]:
    """Every p13n RPC whose ``google.api.http`` rule is an admin API path."""
    for file in files.file:
        if not file.package.startswith("p13n."):
            continue
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                kind = rule.WhichOneof("pattern")
                if kind is not None and getattr(rule, kind).startswith("/v1/"):
                    yield AdminRule(
                        file.package, service, method, rule, kind.upper(), getattr(rule, kind)
                    )
