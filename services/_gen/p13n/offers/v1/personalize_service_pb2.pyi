from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from p13n.offers.v1 import personalization_pb2 as _personalization_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PublicPersonalizeRequest(_message.Message):
    __slots__ = ("database", "table", "event")
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    database: str
    table: str
    event: _struct_pb2.Struct
    def __init__(self, database: _Optional[str] = ..., table: _Optional[str] = ..., event: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PrivatePersonalizeRequest(_message.Message):
    __slots__ = ("database", "table", "event")
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    database: str
    table: str
    event: _struct_pb2.Struct
    def __init__(self, database: _Optional[str] = ..., table: _Optional[str] = ..., event: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PrivatePersonalizeHttpRequest(_message.Message):
    __slots__ = ("database", "table", "event")
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    database: str
    table: str
    event: _struct_pb2.Struct
    def __init__(self, database: _Optional[str] = ..., table: _Optional[str] = ..., event: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PersonalizeResponse(_message.Message):
    __slots__ = ("offers",)
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    offers: _containers.RepeatedCompositeFieldContainer[_personalization_pb2.SectionOffer]
    def __init__(self, offers: _Optional[_Iterable[_Union[_personalization_pb2.SectionOffer, _Mapping]]] = ...) -> None: ...
