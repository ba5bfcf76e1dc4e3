import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from p13n.profile.v1 import realtime_config_pb2 as _realtime_config_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MergeOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MERGE_OUTCOME_UNSPECIFIED: _ClassVar[MergeOutcome]
    MERGED: _ClassVar[MergeOutcome]
    REFUSED: _ClassVar[MergeOutcome]
MERGE_OUTCOME_UNSPECIFIED: MergeOutcome
MERGED: MergeOutcome
REFUSED: MergeOutcome

class Identity(_message.Message):
    __slots__ = ("key", "value", "first_seen")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    first_seen: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SegmentMembership(_message.Message):
    __slots__ = ("name", "sensitivity")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    sensitivity: _realtime_config_pb2.Sensitivity
    def __init__(self, name: _Optional[str] = ..., sensitivity: _Optional[_Union[_realtime_config_pb2.Sensitivity, str]] = ...) -> None: ...

class AttributeValue(_message.Message):
    __slots__ = ("name", "value", "sensitivity_summary")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: _struct_pb2.Value
    sensitivity_summary: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., sensitivity_summary: _Optional[str] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("canonical_id", "identities", "attributes", "segments")
    CANONICAL_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    canonical_id: str
    identities: _containers.RepeatedCompositeFieldContainer[Identity]
    attributes: _containers.RepeatedCompositeFieldContainer[AttributeValue]
    segments: _containers.RepeatedCompositeFieldContainer[SegmentMembership]
    def __init__(self, canonical_id: _Optional[str] = ..., identities: _Optional[_Iterable[_Union[Identity, _Mapping]]] = ..., attributes: _Optional[_Iterable[_Union[AttributeValue, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[SegmentMembership, _Mapping]]] = ...) -> None: ...

class MergeLogEntry(_message.Message):
    __slots__ = ("id", "time", "outcome", "surviving_profile", "absorbed_profiles", "linking_values", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SURVIVING_PROFILE_FIELD_NUMBER: _ClassVar[int]
    ABSORBED_PROFILES_FIELD_NUMBER: _ClassVar[int]
    LINKING_VALUES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    time: _timestamp_pb2.Timestamp
    outcome: MergeOutcome
    surviving_profile: str
    absorbed_profiles: _containers.RepeatedScalarFieldContainer[str]
    linking_values: _containers.RepeatedCompositeFieldContainer[Identity]
    reason: str
    def __init__(self, id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[MergeOutcome, str]] = ..., surviving_profile: _Optional[str] = ..., absorbed_profiles: _Optional[_Iterable[str]] = ..., linking_values: _Optional[_Iterable[_Union[Identity, _Mapping]]] = ..., reason: _Optional[str] = ...) -> None: ...
