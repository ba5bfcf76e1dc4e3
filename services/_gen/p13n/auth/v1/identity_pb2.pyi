from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    VIEWER: _ClassVar[Role]
    EDITOR: _ClassVar[Role]
    ADMIN: _ClassVar[Role]
    OWNER: _ClassVar[Role]

class TokenType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_TYPE_UNSPECIFIED: _ClassVar[TokenType]
    TOKEN_TYPE_PUBLIC: _ClassVar[TokenType]
    TOKEN_TYPE_PRIVATE: _ClassVar[TokenType]

class ApiKeyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    API_KEY_TYPE_UNSPECIFIED: _ClassVar[ApiKeyType]
    MASTER: _ClassVar[ApiKeyType]
    WRITE_ONLY: _ClassVar[ApiKeyType]
ROLE_UNSPECIFIED: Role
VIEWER: Role
EDITOR: Role
ADMIN: Role
OWNER: Role
TOKEN_TYPE_UNSPECIFIED: TokenType
TOKEN_TYPE_PUBLIC: TokenType
TOKEN_TYPE_PRIVATE: TokenType
API_KEY_TYPE_UNSPECIFIED: ApiKeyType
MASTER: ApiKeyType
WRITE_ONLY: ApiKeyType

class Identity(_message.Message):
    __slots__ = ("account_id", "parent_segment_id", "service_id", "token_type", "user_id", "role", "api_key_type", "reactor_id", "token_id", "issued_at", "caller_service", "session_id", "client_ip", "api_key_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    API_KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    REACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    CALLER_SERVICE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    parent_segment_id: str
    service_id: str
    token_type: TokenType
    user_id: str
    role: Role
    api_key_type: ApiKeyType
    reactor_id: str
    token_id: str
    issued_at: int
    caller_service: str
    session_id: str
    client_ip: str
    api_key_id: str
    def __init__(self, account_id: _Optional[str] = ..., parent_segment_id: _Optional[str] = ..., service_id: _Optional[str] = ..., token_type: _Optional[_Union[TokenType, str]] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., api_key_type: _Optional[_Union[ApiKeyType, str]] = ..., reactor_id: _Optional[str] = ..., token_id: _Optional[str] = ..., issued_at: _Optional[int] = ..., caller_service: _Optional[str] = ..., session_id: _Optional[str] = ..., client_ip: _Optional[str] = ..., api_key_id: _Optional[str] = ...) -> None: ...
