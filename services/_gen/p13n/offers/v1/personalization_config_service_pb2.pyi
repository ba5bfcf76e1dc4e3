from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from p13n.offers.v1 import personalization_pb2 as _personalization_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreatePersonalizationRequest(_message.Message):
    __slots__ = ("parent_segment_id", "personalization")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONALIZATION_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    personalization: _personalization_pb2.Personalization
    def __init__(self, parent_segment_id: _Optional[str] = ..., personalization: _Optional[_Union[_personalization_pb2.Personalization, _Mapping]] = ...) -> None: ...

class GetPersonalizationRequest(_message.Message):
    __slots__ = ("parent_segment_id", "personalization_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONALIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    personalization_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., personalization_id: _Optional[str] = ...) -> None: ...

class ListPersonalizationsRequest(_message.Message):
    __slots__ = ("parent_segment_id", "page_size", "page_token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    page_size: int
    page_token: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPersonalizationsResponse(_message.Message):
    __slots__ = ("personalizations", "next_page_token")
    PERSONALIZATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    personalizations: _containers.RepeatedCompositeFieldContainer[_personalization_pb2.Personalization]
    next_page_token: str
    def __init__(self, personalizations: _Optional[_Iterable[_Union[_personalization_pb2.Personalization, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdatePersonalizationRequest(_message.Message):
    __slots__ = ("parent_segment_id", "personalization_id", "personalization", "update_mask")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONALIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONALIZATION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    personalization_id: str
    personalization: _personalization_pb2.Personalization
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, parent_segment_id: _Optional[str] = ..., personalization_id: _Optional[str] = ..., personalization: _Optional[_Union[_personalization_pb2.Personalization, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeletePersonalizationRequest(_message.Message):
    __slots__ = ("parent_segment_id", "personalization_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONALIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    personalization_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., personalization_id: _Optional[str] = ...) -> None: ...

class PreviewPersonalizationRequest(_message.Message):
    __slots__ = ("parent_segment_id", "personalization_id", "database", "table", "event", "profile")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONALIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    personalization_id: str
    database: str
    table: str
    event: _struct_pb2.Struct
    profile: _struct_pb2.Struct
    def __init__(self, parent_segment_id: _Optional[str] = ..., personalization_id: _Optional[str] = ..., database: _Optional[str] = ..., table: _Optional[str] = ..., event: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SectionPreview(_message.Message):
    __slots__ = ("name", "matched", "redacted_for_public", "sensitive_references")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FOR_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_REFERENCES_FIELD_NUMBER: _ClassVar[int]
    name: str
    matched: bool
    redacted_for_public: bool
    sensitive_references: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., matched: _Optional[bool] = ..., redacted_for_public: _Optional[bool] = ..., sensitive_references: _Optional[_Iterable[str]] = ...) -> None: ...

class PreviewOffers(_message.Message):
    __slots__ = ("offers",)
    class OffersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _personalization_pb2.Offer
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_personalization_pb2.Offer, _Mapping]] = ...) -> None: ...
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    offers: _containers.MessageMap[str, _personalization_pb2.Offer]
    def __init__(self, offers: _Optional[_Mapping[str, _personalization_pb2.Offer]] = ...) -> None: ...

class PreviewPersonalizationResponse(_message.Message):
    __slots__ = ("public_response", "private_response", "sections", "warnings")
    PUBLIC_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    public_response: PreviewOffers
    private_response: PreviewOffers
    sections: _containers.RepeatedCompositeFieldContainer[SectionPreview]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, public_response: _Optional[_Union[PreviewOffers, _Mapping]] = ..., private_response: _Optional[_Union[PreviewOffers, _Mapping]] = ..., sections: _Optional[_Iterable[_Union[SectionPreview, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...
