from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sensitivity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENSITIVITY_UNSPECIFIED: _ClassVar[Sensitivity]
    SENSITIVE: _ClassVar[Sensitivity]
    NON_SENSITIVE: _ClassVar[Sensitivity]

class AttributeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTRIBUTE_TYPE_UNSPECIFIED: _ClassVar[AttributeType]
    SINGLE: _ClassVar[AttributeType]
    LIST: _ClassVar[AttributeType]
    COUNTER: _ClassVar[AttributeType]
    IMPORTED: _ClassVar[AttributeType]
SENSITIVITY_UNSPECIFIED: Sensitivity
SENSITIVE: Sensitivity
NON_SENSITIVE: Sensitivity
ATTRIBUTE_TYPE_UNSPECIFIED: AttributeType
SINGLE: AttributeType
LIST: AttributeType
COUNTER: AttributeType
IMPORTED: AttributeType

class EventFilter(_message.Message):
    __slots__ = ("field", "regex")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    field: str
    regex: str
    def __init__(self, field: _Optional[str] = ..., regex: _Optional[str] = ...) -> None: ...

class EventDefinition(_message.Message):
    __slots__ = ("id", "name", "database", "table", "filters")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    database: str
    table: str
    filters: _containers.RepeatedCompositeFieldContainer[EventFilter]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., database: _Optional[str] = ..., table: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[EventFilter, _Mapping]]] = ...) -> None: ...

class ListAggregation(_message.Message):
    __slots__ = ("name", "field", "sensitivity")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    field: str
    sensitivity: Sensitivity
    def __init__(self, name: _Optional[str] = ..., field: _Optional[str] = ..., sensitivity: _Optional[_Union[Sensitivity, str]] = ...) -> None: ...

class ListSettings(_message.Message):
    __slots__ = ("max_items", "expire_days", "aggregations")
    MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_DAYS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATIONS_FIELD_NUMBER: _ClassVar[int]
    max_items: int
    expire_days: int
    aggregations: _containers.RepeatedCompositeFieldContainer[ListAggregation]
    def __init__(self, max_items: _Optional[int] = ..., expire_days: _Optional[int] = ..., aggregations: _Optional[_Iterable[_Union[ListAggregation, _Mapping]]] = ...) -> None: ...

class CounterSettings(_message.Message):
    __slots__ = ("window", "sum_field")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_FIELD_NUMBER: _ClassVar[int]
    window: str
    sum_field: str
    def __init__(self, window: _Optional[str] = ..., sum_field: _Optional[str] = ...) -> None: ...

class Attribute(_message.Message):
    __slots__ = ("id", "name", "type", "event", "field", "sensitivity", "list", "counter", "sensitivity_summary")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    type: AttributeType
    event: str
    field: str
    sensitivity: Sensitivity
    list: ListSettings
    counter: CounterSettings
    sensitivity_summary: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[_Union[AttributeType, str]] = ..., event: _Optional[str] = ..., field: _Optional[str] = ..., sensitivity: _Optional[_Union[Sensitivity, str]] = ..., list: _Optional[_Union[ListSettings, _Mapping]] = ..., counter: _Optional[_Union[CounterSettings, _Mapping]] = ..., sensitivity_summary: _Optional[str] = ...) -> None: ...

class StitchingKey(_message.Message):
    __slots__ = ("id", "name", "regex", "exclusions", "workflow_only", "verified")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIONS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ONLY_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    regex: str
    exclusions: _containers.RepeatedScalarFieldContainer[str]
    workflow_only: bool
    verified: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., regex: _Optional[str] = ..., exclusions: _Optional[_Iterable[str]] = ..., workflow_only: _Optional[bool] = ..., verified: _Optional[bool] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("id", "name", "sensitivity")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    sensitivity: Sensitivity
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., sensitivity: _Optional[_Union[Sensitivity, str]] = ...) -> None: ...
