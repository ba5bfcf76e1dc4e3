"""The OpenAPI 3.1 document of the HTTP API, and the reference page made from it.

Both are generated from the descriptor set `make protos` builds (``services/_gen/p13n.binpb``,
with source info): the ``google.api.http`` bindings give the paths, the comments the
descriptions, ``google.api.field_behavior`` which fields are required or output only, and
each method's comment the errors it documents ("Returns NOT_FOUND if ..."). The JSON the
document describes is the one the gateway's transcoder prints: proto field names kept
(``preserve_proto_field_names`` in gateway/envoy.yaml.tmpl), 64-bit integers as strings,
enums by name, the well-known types in their JSON forms.

No library on PyPI turns protos into OpenAPI 3 (protoc-gen-openapiv2 is Go and Swagger 2),
so this is a small generator. Run ``python -m gateway.openapi`` (``make protos`` does) to
rewrite docs/openapi.json and docs/api.md; tests/gateway/test_openapi.py fails when either
is stale.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, field_behavior_pb2
from google.protobuf import descriptor_pb2
from google.rpc import code_pb2

from services.common.errors import PERMISSION_DENIED_MESSAGE
from services.common.status_codes import HTTP_STATUS
from services.profile import config_rules

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR = ROOT / "services" / "_gen" / "p13n.binpb"
DOCUMENT = ROOT / "docs" / "openapi.json"
PAGE = ROOT / "docs" / "api.md"
REGENERATE = "python -m gateway.openapi (or `make protos`)"

FieldProto = descriptor_pb2.FieldDescriptorProto
_T = FieldProto.Type

# proto3 JSON: 64-bit integers are strings, so a JavaScript client does not round them.
_SCALARS: dict[int, dict[str, Any]] = {
    _T.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _T.TYPE_FLOAT: {"type": "number", "format": "float"},
    _T.TYPE_INT64: {"type": "string", "format": "int64"},
    _T.TYPE_UINT64: {"type": "string", "format": "uint64"},
    _T.TYPE_SINT64: {"type": "string", "format": "int64"},
    _T.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    _T.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    _T.TYPE_INT32: {"type": "integer", "format": "int32"},
    _T.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _T.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _T.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    _T.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    _T.TYPE_BOOL: {"type": "boolean"},
    _T.TYPE_STRING: {"type": "string"},
    _T.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}

# The well-known types in their proto3 JSON forms.
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    ".google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    ".google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    ".google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated field names (a google.protobuf.FieldMask).",
    },
    ".google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    ".google.protobuf.Value": {},
    ".google.protobuf.ListValue": {"type": "array", "items": {}},
    ".google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    ".google.protobuf.StringValue": {"type": ["string", "null"]},
    ".google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    ".google.protobuf.Int32Value": {"type": ["integer", "null"]},
    ".google.protobuf.Int64Value": {"type": ["string", "null"]},
    ".google.protobuf.DoubleValue": {"type": ["number", "null"]},
}

# Codes a method's comment may name, in the order the document lists them.
_ERROR_CODES = (
    "INVALID_ARGUMENT",
    "FAILED_PRECONDITION",
    "OUT_OF_RANGE",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "ABORTED",
    "RESOURCE_EXHAUSTED",
    "UNAVAILABLE",
)
_CODE_WORD = re.compile(r"\b(" + "|".join(_ERROR_CODES) + r")\b")

# What the gateway itself may answer to any request, whatever the method documents.
_GATEWAY_ERRORS = {
    "UNAUTHENTICATED": "No credential, or one the auth service does not know.",
    "RESOURCE_EXHAUSTED": "Past a rate limit; retry after the `retry-after` header's seconds.",
    "UNAVAILABLE": "A p13n service cannot answer now (the auth service included); retry.",
}

# What the gateway answers before the method runs to a request with a body (docs/design.md
# sections 2.8 and 2.9): (status, code, ErrorInfo reason or "" for none, when, message).
_BODY_ERRORS: tuple[tuple[int, str, str, str, str], ...] = (
    (
        400,
        "INVALID_ARGUMENT",
        "INVALID_JSON",
        "the body is not strict JSON (RFC 8259, UTF-8, no key twice), names a field the "
        "request does not have (reason UNKNOWN_FIELD) or gives a field a value of another type",
        "The body is not valid JSON (RFC 8259): Expecting value (line 1, column 1)",
    ),
    (
        413,
        "INVALID_ARGUMENT",
        "",
        "the body is larger than the gateway takes",
        "Request body too large: at most 64 KiB per event, 16 KiB to sign in, "
        "5 MiB for any other request",
    ),
)

# The credentials each listener's paths take (docs/design.md sections 2 and 3).
_SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`TD1 <API key>`: a master key on the admin API, write-only or "
        "master on /records/.",
    },
    "session": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Bearer <session>`: the token POST /v1/sessions answers.",
    },
    "personalizationToken": {
        "type": "apiKey",
        "in": "header",
        "name": "WP13n-Token",
        "description": "`<account_id>/<reactor_id>/<secret>`: a personalization service's token "
        "(public on /public/, private or public on /{database}/{table}).",
    },
}
# Signing in is the one request without a credential.
_OPEN = {("/v1/sessions", "post")}


def _security(path: str, verb: str) -> list[dict[str, list[str]]]:
    if (path, verb) in _OPEN:
        return []
    if path.startswith("/v1/"):
        return [{"apiKey": []}, {"session": []}]
    if path.startswith("/records/"):
        return [{"apiKey": []}]
    return [{"personalizationToken": []}]


# And to an event for personalization (POST /public/... and /{database}/{table}), which the
# gateway reads as JSON only when it says so.
_EVENT_ERRORS: tuple[tuple[int, str, str, str, str], ...] = (
    (
        415,
        "INVALID_ARGUMENT",
        "",
        "the Content-Type is not application/json or application/vnd.treasuredata.v1+json",
        "Content-Type must be application/json or application/vnd.treasuredata.v1+json",
    ),
)

# The data plane's table names, as the gateway routes them (services/auth/authz.py) and event
# definitions take them (services/profile/config_rules.py): any other is a 404.
_TABLE_NAME_RULES: dict[str, dict[str, Any]] = {
    "database": {
        "pattern": config_rules.NAME.pattern,
        "not": {"enum": sorted(config_rules.RESERVED_NAMES)},
    },
    "table": {"pattern": config_rules.NAME.pattern},
}

_PATH_PARAM = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")


class _Descriptors:
    """The messages and enums of a descriptor set by full name, with their comments."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        self.files = [file for file in files.file if file.package.startswith("p13n.")]
        for file in files.file:
            comments = {
                tuple(location.path): _clean(location.leading_comments)
                for location in file.source_code_info.location
                if location.leading_comments
            }
            prefix = f".{file.package}" if file.package else ""
            for index, message in enumerate(file.message_type):
                self._add_message(prefix, message, (4, index), comments)
            for index, enum in enumerate(file.enum_type):
                self._add_enum(prefix, enum, (5, index), comments)
            for s_index, service in enumerate(file.service):
                for m_index, method in enumerate(service.method):
                    key = f"{prefix}.{service.name}.{method.name}"
                    self.comments[key] = comments.get((6, s_index, 2, m_index), "")

    def _add_message(
        self,
        prefix: str,
        message: descriptor_pb2.DescriptorProto,
        path: tuple[int, ...],
        comments: dict[tuple[int, ...], str],
    ) -> None:
        name = f"{prefix}.{message.name}"
        self.messages[name] = message
        self.comments[name] = comments.get(path, "")
        for index, field in enumerate(message.field):
            self.comments[f"{name}.{field.name}"] = comments.get((*path, 2, index), "")
        for index, nested in enumerate(message.nested_type):
            self._add_message(name, nested, (*path, 3, index), comments)
        for index, enum in enumerate(message.enum_type):
            self._add_enum(name, enum, (*path, 4, index), comments)

    def _add_enum(
        self,
        prefix: str,
        enum: descriptor_pb2.EnumDescriptorProto,
        path: tuple[int, ...],
        comments: dict[tuple[int, ...], str],
    ) -> None:
        name = f"{prefix}.{enum.name}"
        self.enums[name] = enum
        values = [
            f"`{value.name}`: {comments[(*path, 2, index)]}"
            for index, value in enumerate(enum.value)
            if comments.get((*path, 2, index))
        ]
        self.comments[name] = "\n".join(filter(None, [comments.get(path, ""), *values]))


def _clean(comment: str) -> str:
    return " ".join(line.strip() for line in comment.strip().splitlines())


def _schema_name(full_name: str) -> str:
    # ".p13n.profile.v1.Attribute" -> "p13n.profile.v1.Attribute": unique, and what gRPC users see.
    return full_name.lstrip(".")


def _behaviors(field: FieldProto) -> set[str]:
    return {
        field_behavior_pb2.FieldBehavior.Name(value)
        for value in field.options.Extensions[field_behavior_pb2.field_behavior]
    }


class _Builder:
    def __init__(self, descriptors: _Descriptors) -> None:
        self.d = descriptors
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, type_name: str) -> dict[str, Any]:
        """A reference to a message or enum, adding its schema (and those it uses) once."""
        if type_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[type_name])
        name = _schema_name(type_name)
        if name not in self.schemas:
            self.schemas[name] = {}  # reserved first: messages may refer to themselves
            if type_name in self.d.enums:
                self.schemas[name] = self._enum(type_name)
            else:
                self.schemas[name] = self._message(type_name)
        return {"$ref": f"#/components/schemas/{name}"}

    def _enum(self, type_name: str) -> dict[str, Any]:
        enum = self.d.enums[type_name]
        schema: dict[str, Any] = {"type": "string", "enum": [v.name for v in enum.value]}
        if self.d.comments.get(type_name):
            schema["description"] = self.d.comments[type_name]
        return schema

    def field_schema(self, message_name: str, field: FieldProto) -> dict[str, Any]:
        if field.type == _T.TYPE_MESSAGE:
            entry = self.d.messages.get(field.type_name)
            if entry is not None and entry.options.map_entry:
                value = self.field_schema(field.type_name, entry.field[1])
                schema: dict[str, Any] = {"type": "object", "additionalProperties": value}
            else:
                schema = self.ref(field.type_name)
                if field.label == FieldProto.LABEL_REPEATED:
                    schema = {"type": "array", "items": schema}
        else:
            enum = field.type == _T.TYPE_ENUM
            schema = self.ref(field.type_name) if enum else dict(_SCALARS[field.type])
            if field.label == FieldProto.LABEL_REPEATED:
                schema = {"type": "array", "items": schema}
        comment = self.d.comments.get(f"{message_name}.{field.name}", "")
        behaviors = _behaviors(field)
        if "OUTPUT_ONLY" in behaviors:
            schema["readOnly"] = True
        if "INPUT_ONLY" in behaviors:
            schema["writeOnly"] = True
        if comment:
            if "$ref" in schema:
                # 3.1 allows siblings of $ref; the description is the field's, not the type's.
                schema = {**schema, "description": comment}
            else:
                schema["description"] = comment
        return schema

    def _message(self, type_name: str, leave_out: Iterable[str] = ()) -> dict[str, Any]:
        message = self.d.messages[type_name]
        skipped = set(leave_out)
        properties = {
            field.name: self.field_schema(type_name, field)
            for field in message.field
            if field.name not in skipped
        }
        required = [
            field.name
            for field in message.field
            if field.name not in skipped and "REQUIRED" in _behaviors(field)
        ]
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if self.d.comments.get(type_name):
            schema["description"] = self.d.comments[type_name]
        return schema

    def operation(
        self,
        package: str,
        service: descriptor_pb2.ServiceDescriptorProto,
        method: descriptor_pb2.MethodDescriptorProto,
        rule: Any,
        path: str,
    ) -> dict[str, Any]:
        comment = self.d.comments.get(f".{package}.{service.name}.{method.name}", "")
        request = self.d.messages[method.input_type]
        path_fields = _PATH_PARAM.findall(path)
        fields = {field.name: field for field in request.field}
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": self.field_schema(method.input_type, fields[name])
                | _TABLE_NAME_RULES.get(name, {}),
            }
            for name in path_fields
        ]
        operation: dict[str, Any] = {
            "operationId": f"{service.name}.{method.name}",
            "summary": comment.split(". ")[0].rstrip(".") if comment else method.name,
            "description": comment,
            "tags": [service.name],
        }
        if rule.body == "*":
            body_schema = self._message(method.input_type, leave_out=path_fields)
        elif rule.body:
            body_schema = self.field_schema(method.input_type, fields[rule.body])
        else:
            body_schema = None
        # The fields neither in the path nor in the body are query parameters.
        if rule.body != "*":
            for field in request.field:
                if field.name in path_fields or field.name == rule.body:
                    continue
                schema = self.field_schema(method.input_type, field)
                parameters.append({"name": field.name, "in": "query", "schema": schema})
        if parameters:
            operation["parameters"] = parameters
        if body_schema is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        if method.output_type == ".google.api.HttpBody":
            ok: dict[str, Any] = {
                "description": "The answer, written by the service (see the description).",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        else:
            ok = {
                "description": "OK",
                "content": {"application/json": {"schema": self.ref(method.output_type)}},
            }
        # An event for personalization: every data-plane path but the Ingest API's.
        takes_event = not path.startswith(("/v1/", "/records/"))
        errors = _error_responses(comment, body_schema is not None, takes_event)
        operation["responses"] = {"200": ok, **errors}
        return operation


def _documented_errors(comment: str) -> dict[str, str]:
    """Each code a method's comment names, with the words that say when it is returned."""
    found: dict[str, str] = {}
    matches = list(_CODE_WORD.finditer(comment))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(comment)
        when = comment[match.end() : end].split(". ")[0]
        when = re.sub(r"(,|\band\b|\bor\b|;|\s)+$", "", when.strip()).strip()
        found.setdefault(match.group(1), when)
    return found


@dataclass(frozen=True)
class _ErrorCase:
    """One way an operation fails: its code, when, and the reason and message it carries."""

    code: str
    when: str
    reason: str = ""
    message: str = ""

    @classmethod
    def documented(cls, code_name: str, when: str) -> _ErrorCase:
        # A refusal for a role says only that (services/common/errors.py); other messages
        # vary with the case, so the example's message says the case the comment documents.
        if code_name == "PERMISSION_DENIED":
            message = PERMISSION_DENIED_MESSAGE
        else:
            message = (when[0].upper() + when[1:]) if when else code_name
        return cls(code_name, when, code_name, message)

    def example(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": code_pb2.Code.Value(self.code), "message": self.message}
        if self.reason:
            info = {"reason": self.reason, "domain": "p13n.dev", "metadata": {}}
            body["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", **info}]
        return body


def _error_responses(comment: str, has_body: bool, takes_event: bool) -> dict[str, Any]:
    """The method's documented errors by status, with the gateway's own for its request.

    The three any request may get refer to shared responses unless the method documents
    the same status, where they join its cases.
    """
    documented = _documented_errors(comment)
    by_status: dict[str, list[_ErrorCase]] = {}
    for code_name in _ERROR_CODES:
        if code_name in documented:
            when = documented[code_name] or "See the description."
            status = str(HTTP_STATUS[code_pb2.Code.Value(code_name)])
            by_status.setdefault(status, []).append(_ErrorCase.documented(code_name, when))
    gateway_cases = (_BODY_ERRORS if has_body else ()) + (_EVENT_ERRORS if takes_event else ())
    for status_number, code_name, reason, when, message in gateway_cases:
        case = _ErrorCase(code_name, when, reason, message)
        by_status.setdefault(str(status_number), []).append(case)
    responses: dict[str, Any] = {}
    for code_name in _GATEWAY_ERRORS:
        status = str(HTTP_STATUS[code_pb2.Code.Value(code_name)])
        if status not in by_status:
            responses[status] = {"$ref": f"#/components/responses/{code_name}"}
    for status, cases in by_status.items():
        responses[status] = _response(cases)
    return dict(sorted(responses.items()))


def _response(cases: list[_ErrorCase]) -> dict[str, Any]:
    return {
        "description": "; ".join(f"{case.code} {case.when}" for case in cases),
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/google.rpc.Status"},
                "examples": {
                    (case.reason or case.code): {"value": case.example()} for case in cases
                },
            }
        },
    }


_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "Every error, on both listeners (docs/design.md section 2.8). `details` holds a "
        "google.rpc.ErrorInfo (domain p13n.dev) whose `reason` is a stable UPPER_SNAKE_CASE "
        "word to switch on and whose metadata names the request `field` at fault, and for an "
        "error about one field a google.rpc.BadRequest with its `field_violations`."
    ),
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "integer", "description": "The google.rpc.Code number."},
        "message": {"type": "string", "description": "For the developer who reads it."},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["@type"],
                "properties": {"@type": {"type": "string"}},
                "additionalProperties": True,
            },
        },
    },
}


def build(descriptor: Path = DESCRIPTOR) -> dict[str, Any]:
    """The OpenAPI document of every method with an HTTP binding in ``descriptor``."""
    descriptors = _Descriptors(descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()))
    builder = _Builder(descriptors)
    paths: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, str]] = []
    for file in sorted(descriptors.files, key=lambda f: f.name):
        for service in file.service:
            bound = False
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                verb = rule.WhichOneof("pattern")
                if verb is None or verb == "custom":
                    continue
                path = _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", getattr(rule, verb))
                operation = builder.operation(file.package, service, method, rule, path)
                operation["security"] = _security(path, verb)
                paths.setdefault(path, {})[verb] = operation
                bound = True
            if bound:
                description = descriptors.comments.get(f".{file.package}.{service.name}", "")
                tags.append({"name": service.name, "description": description})
    builder.schemas["google.rpc.Status"] = _STATUS_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "p13n HTTP API",
            "version": "v1",
            "description": (
                "Generated from protos/ by `python -m gateway.openapi`; do not edit. The admin "
                "API (`/v1/...`) is served on the gateway's admin listener, the data plane "
                "(`/public/{database}/{table}`, `/{database}/{table}`, "
                "`/records/{database}/{table}`) on its data listener. Field names are the "
                "proto field names; 64-bit integers are JSON strings; enums are their names. "
                "Errors are google.rpc.Status bodies (docs/design.md section 2.8)."
            ),
        },
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "securitySchemes": _SECURITY_SCHEMES,
            "responses": {
                code: _response([_ErrorCase.documented(code, when)])
                for code, when in _GATEWAY_ERRORS.items()
            },
        },
    }


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def to_markdown(document: dict[str, Any]) -> str:
    """docs/api.md: every path and method with its body, parameters, answer and errors."""
    lines = [
        "# p13n HTTP API reference",
        "",
        document["info"]["description"].replace(
            "`python -m gateway.openapi`;",
            "`python -m gateway.openapi` (run by `make protos`);",
        )
        + " The machine-readable form is [openapi.json](openapi.json), also served by the "
        "gateway at `GET /v1/openapi.json`.",
        "",
        "## Credentials",
        "",
    ]
    for name, scheme in document["components"]["securitySchemes"].items():
        header = scheme.get("name", "Authorization")
        lines.append(f"- **{name}**: the `{header}` header, {scheme['description']}")
    lines += [
        "",
        "Each path names the gRPC method behind it (`gRPC: Service.Method`, in `protos/`). "
        "A backend may also call two of them as native gRPC on the data listener, with the "
        "credential as metadata and the same checks: "
        "`p13n.offers.v1.PersonalizeService/PrivatePersonalize` with `wp13n-token: <token>`, "
        "and `p13n.profile.v1.IngestService/IngestRecords` with `authorization: TD1 <API "
        "key>`; on the admin listener, `p13n.profile.v1.ProfileService/"
        "StreamImportAttributes` with an API key (docs/design.md section 2.5).",
        "",
    ]
    for path, item in document["paths"].items():
        for verb, operation in item.items():
            lines += _operation_lines(document, path, verb, operation)
    lines += ["# Types", ""]
    for name, schema in document["components"]["schemas"].items():
        lines += [f'<a id="{_anchor(name)}"></a>', f"### {name}", ""]
        if schema.get("description"):
            lines += [schema["description"], ""]
        if "enum" in schema:
            lines += ["One of: " + ", ".join(f"`{value}`" for value in schema["enum"]), ""]
        lines += _property_lines(schema)
    return "\n".join(lines).rstrip("\n") + "\n"


def _operation_lines(
    document: dict[str, Any], path: str, verb: str, operation: dict[str, Any]
) -> list[str]:
    lines: list[str] = []
    lines += [f"## {verb.upper()} `{path}`", "", operation["description"] or "", ""]
    lines.append(f"gRPC: `{operation['operationId']}`")
    lines.append("")
    credentials = [name for option in operation["security"] for name in option]
    lines.append(f"Credential: {' or '.join(credentials) or 'none'}")
    lines.append("")
    for parameter in operation.get("parameters", []):
        lines.append(
            f"- {parameter['in']} `{parameter['name']}`: "
            f"{_type_words(parameter['schema'])}"
            f"{' — ' + parameter['schema']['description'] if 'description' in parameter['schema'] else ''}"
        )
    if operation.get("parameters"):
        lines.append("")
    if "requestBody" in operation:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        lines += [f"Body: {_type_words(body)}", ""]
        lines += _property_lines(body)
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    lines += [f"Answer (200): {_type_words(ok)}", ""]
    lines.append("| Status | When |")
    lines.append("|---|---|")
    for status, response in operation["responses"].items():
        if "$ref" in response:
            response = document["components"]["responses"][response["$ref"].rsplit("/")[-1]]
        if status != "200":
            lines.append(f"| {status} | {response['description']} |")
    lines.append("")
    return lines


def _anchor(name: str) -> str:
    return name.lower().replace(".", "-")


def _type_words(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{_anchor(name)})"
    if schema.get("type") == "array":
        return f"array of {_type_words(schema.get('items', {}))}"
    if schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of string to {_type_words(schema['additionalProperties'])}"
    kind = schema.get("type", "any JSON value")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _property_lines(schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties")
    if not properties:
        return []
    required = set(schema.get("required", []))
    lines = ["| Field | Type | Description |", "|---|---|---|"]
    for name, prop in properties.items():
        marks = [
            word
            for word, on in (("required", name in required), ("output only", prop.get("readOnly")))
            if on
        ]
        note = f" ({', '.join(marks)})" if marks else ""
        description = str(prop.get("description", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{name}`{note} | {_type_words(prop)} | {description} |")
    return [*lines, ""]


def main() -> int:
    document = build()
    DOCUMENT.write_text(to_json(document))
    PAGE.write_text(to_markdown(document))
    print(f"wrote {DOCUMENT.relative_to(ROOT)} and {PAGE.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
