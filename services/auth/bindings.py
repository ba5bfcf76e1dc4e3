"""Which request message an HTTP method and path become, read from the gateway's descriptors.

The transcoder maps ``POST /v1/parent_segments/7/services`` to ``CreateService`` through
the ``google.api.http`` option of each RPC; ext_authz sees the request before it, so the
same table is built here from the same descriptor set (``services/_gen/p13n.binpb``) to
check a body against the message it will become (``strict_json``). Only the services
each listener transcodes are looked at (gateway/envoy.yaml.tmpl), so ``/v1/users`` on the
admin listener is never taken for the data plane's ``/{database}/{table}``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor

DESCRIPTOR_SET = Path(__file__).resolve().parent.parent / "_gen" / "p13n.binpb"

# The services each listener's transcoder serves (gateway/envoy.yaml.tmpl).
TRANSCODED: dict[str, tuple[str, ...]] = {
    "data": ("p13n.offers.v1.PersonalizeService", "p13n.profile.v1.IngestService"),
    "admin": (
        "p13n.auth.v1.IdentityService",
        "p13n.auth.v1.RegistryService",
        "p13n.auth.v1.AuditService",
        "p13n.profile.v1.ConfigService",
        "p13n.profile.v1.ProfileService",
        "p13n.offers.v1.PersonalizationConfigService",
    ),
}

_VARIABLE = re.compile(r"\{([a-z0-9_.]+)(?:=[^}]*)?\}")


@dataclass(frozen=True)
class Binding:
    """One HTTP binding: the body's message and the field path messages name it by."""

    method: str  # GET, POST, PATCH, ...
    pattern: re.Pattern[str]
    literals: int  # literal path segments; the most specific binding wins
    message: Descriptor  # what the body is read as
    where: str  # "" for ``body: "*"``, else the body field's name


def _pattern(template: str) -> tuple[re.Pattern[str], int]:
    parts: list[str] = []
    position = 0
    for found in _VARIABLE.finditer(template):
        parts.append(re.escape(template[position : found.start()]))
        parts.append("[^/]+")
        position = found.end()
    parts.append(re.escape(template[position:]))
    literals = len([part for part in _VARIABLE.sub("", template).split("/") if part])
    return re.compile("".join(parts)), literals


def _rules(rule: http_pb2.HttpRule) -> list[http_pb2.HttpRule]:
    return [rule, *rule.additional_bindings]


def _binding(rule: http_pb2.HttpRule, request: Descriptor) -> Binding | None:
    kind = rule.WhichOneof("pattern")
    if kind is None or not rule.body:
        return None  # no body to read
    template = rule.custom.path if kind == "custom" else getattr(rule, kind)
    method = rule.custom.kind.upper() if kind == "custom" else kind.upper()
    pattern, literals = _pattern(template)
    if rule.body == "*":
        return Binding(method, pattern, literals, request, "")
    message = request.fields_by_name[rule.body].message_type
    if message is None:
        return None  # a scalar body field: the transcoder reads it as one JSON value
    return Binding(method, pattern, literals, message, rule.body)


@functools.cache
def table(descriptor_set: Path = DESCRIPTOR_SET) -> dict[str, tuple[Binding, ...]]:
    """Listener → its bindings that take a body, most specific first."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    result: dict[str, tuple[Binding, ...]] = {}
    for listener, services in TRANSCODED.items():
        found: list[Binding] = []
        for name in services:
            for method in pool.FindServiceByName(name).methods:
                rule = descriptor_pb2.MethodOptions.FromString(
                    method.GetOptions().SerializeToString()
                ).Extensions[annotations_pb2.http]
                for each in _rules(rule):
                    binding = _binding(each, method.input_type)
                    if binding is not None:
                        found.append(binding)
        result[listener] = tuple(sorted(found, key=lambda b: -b.literals))
    return result


def body_of(listener: str, method: str, path: str) -> Binding | None:
    """The binding a request's body is read by; None if it has none.

    The path is matched as the transcoder matches it: trailing slashes do not count
    (``/v1/parent_segments/1/services/`` is ``CreateService``), or a slash would be a way
    around the check.
    """
    bare = path.split("?", 1)[0].rstrip("/") or "/"
    for binding in table().get(listener, ()):
        if binding.method == method and binding.pattern.fullmatch(bare):
            return binding
    return None
