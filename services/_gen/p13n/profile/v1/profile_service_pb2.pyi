from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from p13n.profile.v1 import profile_pb2 as _profile_pb2
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

class GetProfileRequest(_message.Message):
    __slots__ = ("parent_segment_id", "key", "value")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    key: str
    value: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ListMergeLogRequest(_message.Message):
    __slots__ = ("parent_segment_id", "page_size", "page_token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    page_size: int
    page_token: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMergeLogResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_profile_pb2.MergeLogEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_profile_pb2.MergeLogEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ImportRecord(_message.Message):
    __slots__ = ("value", "attributes")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    value: str
    attributes: _struct_pb2.Struct
    def __init__(self, value: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ImportAttributesRequest(_message.Message):
    __slots__ = ("parent_segment_id", "key", "records")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    key: str
    records: _containers.RepeatedCompositeFieldContainer[ImportRecord]
    def __init__(self, parent_segment_id: _Optional[str] = ..., key: _Optional[str] = ..., records: _Optional[_Iterable[_Union[ImportRecord, _Mapping]]] = ...) -> None: ...

class ImportAttributesResponse(_message.Message):
    __slots__ = ("imported",)
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    imported: int
    def __init__(self, imported: _Optional[int] = ...) -> None: ...

class StreamImportAttributesRequest(_message.Message):
    __slots__ = ("parent_segment_id", "key", "records")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    key: str
    records: _containers.RepeatedCompositeFieldContainer[ImportRecord]
    def __init__(self, parent_segment_id: _Optional[str] = ..., key: _Optional[str] = ..., records: _Optional[_Iterable[_Union[ImportRecord, _Mapping]]] = ...) -> None: ...

class StreamImportAttributesResponse(_message.Message):
    __slots__ = ("imported",)
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    imported: int
    def __init__(self, imported: _Optional[int] = ...) -> None: ...
