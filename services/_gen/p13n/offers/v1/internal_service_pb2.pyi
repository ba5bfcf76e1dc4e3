from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

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
