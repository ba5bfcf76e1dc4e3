from google.api import field_behavior_pb2 as _field_behavior_pb2
from p13n.auth.v1 import identity_pb2 as _identity_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CallKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_KIND_UNSPECIFIED: _ClassVar[CallKind]
    CALL_KIND_PERSONALIZE: _ClassVar[CallKind]
    CALL_KIND_INGEST: _ClassVar[CallKind]
CALL_KIND_UNSPECIFIED: CallKind
CALL_KIND_PERSONALIZE: CallKind
CALL_KIND_INGEST: CallKind

class AuthenticateCallRequest(_message.Message):
    __slots__ = ("kind", "token", "authorization", "peer_ip")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    PEER_IP_FIELD_NUMBER: _ClassVar[int]
    kind: CallKind
    token: str
    authorization: str
    peer_ip: str
    def __init__(self, kind: _Optional[_Union[CallKind, str]] = ..., token: _Optional[str] = ..., authorization: _Optional[str] = ..., peer_ip: _Optional[str] = ...) -> None: ...

class AuthenticateCallResponse(_message.Message):
    __slots__ = ("identity",)
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    identity: _identity_pb2.Identity
    def __init__(self, identity: _Optional[_Union[_identity_pb2.Identity, _Mapping]] = ...) -> None: ...

class GetAccountFlagsRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class GetAccountFlagsResponse(_message.Message):
    __slots__ = ("flags",)
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    flags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, flags: _Optional[_Iterable[str]] = ...) -> None: ...
