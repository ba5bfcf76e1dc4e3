from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from p13n.auth.v1 import audit_pb2 as _audit_pb2
from p13n.profile.v1 import realtime_config_pb2 as _realtime_config_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrackRequest(_message.Message):
    __slots__ = ("parent_segment_id", "database", "table", "event", "dry_run")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    database: str
    table: str
    event: _struct_pb2.Struct
    dry_run: bool
    def __init__(self, parent_segment_id: _Optional[str] = ..., database: _Optional[str] = ..., table: _Optional[str] = ..., event: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class TrackResponse(_message.Message):
    __slots__ = ("canonical_id", "attributes_json", "segments", "matched_events", "config_version")
    CANONICAL_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_JSON_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    canonical_id: str
    attributes_json: str
    segments: _containers.RepeatedScalarFieldContainer[str]
    matched_events: _containers.RepeatedScalarFieldContainer[str]
    config_version: int
    def __init__(self, canonical_id: _Optional[str] = ..., attributes_json: _Optional[str] = ..., segments: _Optional[_Iterable[str]] = ..., matched_events: _Optional[_Iterable[str]] = ..., config_version: _Optional[int] = ...) -> None: ...

class GetRealtimeConfigRequest(_message.Message):
    __slots__ = ("parent_segment_id",)
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ...) -> None: ...

class RealtimeConfig(_message.Message):
    __slots__ = ("version", "parent_segment_id", "events", "attributes", "stitching_keys", "segments", "primary_key", "account_id")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    STITCHING_KEYS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    version: int
    parent_segment_id: str
    events: _containers.RepeatedCompositeFieldContainer[_realtime_config_pb2.EventDefinition]
    attributes: _containers.RepeatedCompositeFieldContainer[_realtime_config_pb2.Attribute]
    stitching_keys: _containers.RepeatedCompositeFieldContainer[_realtime_config_pb2.StitchingKey]
    segments: _containers.RepeatedCompositeFieldContainer[_realtime_config_pb2.Segment]
    primary_key: str
    account_id: str
    def __init__(self, version: _Optional[int] = ..., parent_segment_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_realtime_config_pb2.EventDefinition, _Mapping]]] = ..., attributes: _Optional[_Iterable[_Union[_realtime_config_pb2.Attribute, _Mapping]]] = ..., stitching_keys: _Optional[_Iterable[_Union[_realtime_config_pb2.StitchingKey, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[_realtime_config_pb2.Segment, _Mapping]]] = ..., primary_key: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class ListEventTablesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EventTable(_message.Message):
    __slots__ = ("parent_segment_id", "database", "table")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    database: str
    table: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., database: _Optional[str] = ..., table: _Optional[str] = ...) -> None: ...

class ListEventTablesResponse(_message.Message):
    __slots__ = ("tables",)
    TABLES_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.RepeatedCompositeFieldContainer[EventTable]
    def __init__(self, tables: _Optional[_Iterable[_Union[EventTable, _Mapping]]] = ...) -> None: ...

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
