from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from p13n.profile.v1 import profile_pb2 as _profile_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
