from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from p13n.auth.v1 import personalization_service_pb2 as _personalization_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateServiceRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service: _personalization_service_pb2.PersonalizationService
    def __init__(self, parent_segment_id: _Optional[str] = ..., service: _Optional[_Union[_personalization_service_pb2.PersonalizationService, _Mapping]] = ...) -> None: ...

class GetServiceRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ...) -> None: ...

class ListServicesRequest(_message.Message):
    __slots__ = ("parent_segment_id", "page_size", "page_token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    page_size: int
    page_token: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListServicesResponse(_message.Message):
    __slots__ = ("services", "next_page_token")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[_personalization_service_pb2.PersonalizationService]
    next_page_token: str
    def __init__(self, services: _Optional[_Iterable[_Union[_personalization_service_pb2.PersonalizationService, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateServiceRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id", "service", "update_mask")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    service: _personalization_service_pb2.PersonalizationService
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., service: _Optional[_Union[_personalization_service_pb2.PersonalizationService, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteServiceRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id", "token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    token: _personalization_service_pb2.Token
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., token: _Optional[_Union[_personalization_service_pb2.Token, _Mapping]] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id", "page_size", "page_token")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    page_size: int
    page_token: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens", "next_page_token")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[_personalization_service_pb2.Token]
    next_page_token: str
    def __init__(self, tokens: _Optional[_Iterable[_Union[_personalization_service_pb2.Token, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteTokenRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id", "token_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    token_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., token_id: _Optional[str] = ...) -> None: ...

class RevealTokenRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id", "token_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    token_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., token_id: _Optional[str] = ...) -> None: ...

class CreateIdentitySecretRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id", "identity_secret")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_SECRET_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    identity_secret: _personalization_service_pb2.IdentitySecret
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., identity_secret: _Optional[_Union[_personalization_service_pb2.IdentitySecret, _Mapping]] = ...) -> None: ...

class ListIdentitySecretsRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ...) -> None: ...

class ListIdentitySecretsResponse(_message.Message):
    __slots__ = ("identity_secrets",)
    IDENTITY_SECRETS_FIELD_NUMBER: _ClassVar[int]
    identity_secrets: _containers.RepeatedCompositeFieldContainer[_personalization_service_pb2.IdentitySecret]
    def __init__(self, identity_secrets: _Optional[_Iterable[_Union[_personalization_service_pb2.IdentitySecret, _Mapping]]] = ...) -> None: ...

class DeleteIdentitySecretRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id", "identity_secret_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_SECRET_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    identity_secret_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., identity_secret_id: _Optional[str] = ...) -> None: ...

class RevealIdentitySecretRequest(_message.Message):
    __slots__ = ("parent_segment_id", "service_id", "identity_secret_id")
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_SECRET_ID_FIELD_NUMBER: _ClassVar[int]
    parent_segment_id: str
    service_id: str
    identity_secret_id: str
    def __init__(self, parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., identity_secret_id: _Optional[str] = ...) -> None: ...
