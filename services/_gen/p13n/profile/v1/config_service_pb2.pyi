from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from p13n.profile.v1 import parent_segment_pb2 as _parent_segment_pb2
from p13n.profile.v1 import realtime_config_pb2 as _realtime_config_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateParentSegmentRequest(_message.Message):
    __slots__ = ("parent_segment",)
    PARENT_SEGMENT_FIELD_NUMBER: _ClassVar[int]
    parent_segment: _parent_segment_pb2.ParentSegment
    def __init__(self, parent_segment: _Optional[_Union[_parent_segment_pb2.ParentSegment, _Mapping]] = ...) -> None: ...

class GetParentSegmentRequest(_message.Message):
    __slots__ = ("parent_segment_id",)
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ...) -> None: ...

class ListParentSegmentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListParentSegmentsResponse(_message.Message):
    __slots__ = ("parent_segments", "next_page_token")
    PARENT_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segments: _containers.RepeatedCompositeFieldContainer[_parent_segment_pb2.ParentSegment]
    next_page_token: str
    def __init__(self, parent_segments: _Optional[_Iterable[_Union[_parent_segment_pb2.ParentSegment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateParentSegmentRequest(_message.Message):
    __slots__ = ("parent_segment_id", "parent_segment", "update_mask")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SEGMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    parent_segment: _parent_segment_pb2.ParentSegment
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, parent_segment_id: _Optional[str] = ..., parent_segment: _Optional[_Union[_parent_segment_pb2.ParentSegment, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteParentSegmentRequest(_message.Message):
    __slots__ = ("parent_segment_id",)
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ...) -> None: ...

class CreateEventDefinitionRequest(_message.Message):
    __slots__ = ("parent_segment_id", "event")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    event: _realtime_config_pb2.EventDefinition
    def __init__(self, parent_segment_id: _Optional[str] = ..., event: _Optional[_Union[_realtime_config_pb2.EventDefinition, _Mapping]] = ...) -> None: ...

class GetEventDefinitionRequest(_message.Message):
    __slots__ = ("parent_segment_id", "event_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    event_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

class ListEventDefinitionsRequest(_message.Message):
    __slots__ = ("parent_segment_id", "page_size", "page_token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    page_size: int
    page_token: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventDefinitionsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_realtime_config_pb2.EventDefinition]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_realtime_config_pb2.EventDefinition, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateEventDefinitionRequest(_message.Message):
    __slots__ = ("parent_segment_id", "event_id", "event", "update_mask")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    event_id: str
    event: _realtime_config_pb2.EventDefinition
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, parent_segment_id: _Optional[str] = ..., event_id: _Optional[str] = ..., event: _Optional[_Union[_realtime_config_pb2.EventDefinition, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteEventDefinitionRequest(_message.Message):
    __slots__ = ("parent_segment_id", "event_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    event_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

class CreateAttributeRequest(_message.Message):
    __slots__ = ("parent_segment_id", "attribute")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    attribute: _realtime_config_pb2.Attribute
    def __init__(self, parent_segment_id: _Optional[str] = ..., attribute: _Optional[_Union[_realtime_config_pb2.Attribute, _Mapping]] = ...) -> None: ...

class GetAttributeRequest(_message.Message):
    __slots__ = ("parent_segment_id", "attribute_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    attribute_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., attribute_id: _Optional[str] = ...) -> None: ...

class ListAttributesRequest(_message.Message):
    __slots__ = ("parent_segment_id", "page_size", "page_token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    page_size: int
    page_token: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAttributesResponse(_message.Message):
    __slots__ = ("attributes", "next_page_token")
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    attributes: _containers.RepeatedCompositeFieldContainer[_realtime_config_pb2.Attribute]
    next_page_token: str
    def __init__(self, attributes: _Optional[_Iterable[_Union[_realtime_config_pb2.Attribute, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateAttributeRequest(_message.Message):
    __slots__ = ("parent_segment_id", "attribute_id", "attribute", "update_mask")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    attribute_id: str
    attribute: _realtime_config_pb2.Attribute
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, parent_segment_id: _Optional[str] = ..., attribute_id: _Optional[str] = ..., attribute: _Optional[_Union[_realtime_config_pb2.Attribute, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteAttributeRequest(_message.Message):
    __slots__ = ("parent_segment_id", "attribute_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    attribute_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., attribute_id: _Optional[str] = ...) -> None: ...

class CreateStitchingKeyRequest(_message.Message):
    __slots__ = ("parent_segment_id", "stitching_key")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STITCHING_KEY_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    stitching_key: _realtime_config_pb2.StitchingKey
    def __init__(self, parent_segment_id: _Optional[str] = ..., stitching_key: _Optional[_Union[_realtime_config_pb2.StitchingKey, _Mapping]] = ...) -> None: ...

class GetStitchingKeyRequest(_message.Message):
    __slots__ = ("parent_segment_id", "stitching_key_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STITCHING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    stitching_key_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., stitching_key_id: _Optional[str] = ...) -> None: ...

class ListStitchingKeysRequest(_message.Message):
    __slots__ = ("parent_segment_id", "page_size", "page_token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    page_size: int
    page_token: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStitchingKeysResponse(_message.Message):
    __slots__ = ("stitching_keys", "next_page_token")
    STITCHING_KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    stitching_keys: _containers.RepeatedCompositeFieldContainer[_realtime_config_pb2.StitchingKey]
    next_page_token: str
    def __init__(self, stitching_keys: _Optional[_Iterable[_Union[_realtime_config_pb2.StitchingKey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateStitchingKeyRequest(_message.Message):
    __slots__ = ("parent_segment_id", "stitching_key_id", "stitching_key", "update_mask")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STITCHING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    STITCHING_KEY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    stitching_key_id: str
    stitching_key: _realtime_config_pb2.StitchingKey
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, parent_segment_id: _Optional[str] = ..., stitching_key_id: _Optional[str] = ..., stitching_key: _Optional[_Union[_realtime_config_pb2.StitchingKey, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteStitchingKeyRequest(_message.Message):
    __slots__ = ("parent_segment_id", "stitching_key_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STITCHING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    stitching_key_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., stitching_key_id: _Optional[str] = ...) -> None: ...

class CreateSegmentRequest(_message.Message):
    __slots__ = ("parent_segment_id", "segment")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    segment: _realtime_config_pb2.Segment
    def __init__(self, parent_segment_id: _Optional[str] = ..., segment: _Optional[_Union[_realtime_config_pb2.Segment, _Mapping]] = ...) -> None: ...

class GetSegmentRequest(_message.Message):
    __slots__ = ("parent_segment_id", "segment_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    segment_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., segment_id: _Optional[str] = ...) -> None: ...

class ListSegmentsRequest(_message.Message):
    __slots__ = ("parent_segment_id", "page_size", "page_token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    page_size: int
    page_token: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSegmentsResponse(_message.Message):
    __slots__ = ("segments", "next_page_token")
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    segments: _containers.RepeatedCompositeFieldContainer[_realtime_config_pb2.Segment]
    next_page_token: str
    def __init__(self, segments: _Optional[_Iterable[_Union[_realtime_config_pb2.Segment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSegmentRequest(_message.Message):
    __slots__ = ("parent_segment_id", "segment_id", "segment", "update_mask")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    segment_id: str
    segment: _realtime_config_pb2.Segment
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, parent_segment_id: _Optional[str] = ..., segment_id: _Optional[str] = ..., segment: _Optional[_Union[_realtime_config_pb2.Segment, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteSegmentRequest(_message.Message):
    __slots__ = ("parent_segment_id", "segment_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    segment_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., segment_id: _Optional[str] = ...) -> None: ...

class ImportSegmentMembersRequest(_message.Message):
    __slots__ = ("parent_segment_id", "segment_id", "key", "values")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    segment_id: str
    key: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, parent_segment_id: _Optional[str] = ..., segment_id: _Optional[str] = ..., key: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class ImportSegmentMembersResponse(_message.Message):
    __slots__ = ("imported",)
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    imported: int
    def __init__(self, imported: _Optional[int] = ...) -> None: ...
