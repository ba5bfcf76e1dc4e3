from google.api import field_behavior_pb2 as _field_behavior_pb2
from p13n.auth.v1 import audit_pb2 as _audit_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListReferencesRequest(_message.Message):
    __slots__ = ("parent_segment_id", "attribute", "aggregation", "segment", "event")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    attribute: str
    aggregation: str
    segment: str
    event: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., attribute: _Optional[str] = ..., aggregation: _Optional[str] = ..., segment: _Optional[str] = ..., event: _Optional[str] = ...) -> None: ...

class ListReferencesResponse(_message.Message):
    __slots__ = ("personalization_names",)
    PERSONALIZATION_NAMES_FIELD_NUMBER: _ClassVar[int]
    personalization_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, personalization_names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAuditEntriesRequest(_message.Message):
    __slots__ = ("account_id", "resource_type", "resource_id", "after", "limit")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    resource_type: str
    resource_id: str
    after: int
    limit: int
    def __init__(self, account_id: _Optional[str] = ..., resource_type: _Optional[str] = ..., resource_id: _Optional[str] = ..., after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAuditEntriesResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_audit_pb2.AuditEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[_audit_pb2.AuditEntry, _Mapping]]] = ...) -> None: ...
