"""Between the auth admin API's messages and the store's records.

The enums of the contract and the values the store keeps are mapped here once, so a
handler never spells a stored value and the store never imports a message.
"""

from __future__ import annotations

from p13n.auth.v1 import identity_pb2
from p13n.auth.v1 import personalization_service_pb2 as pb

from services.auth.store_protocols import IdentitySecretRecord, ServiceRecord, TokenRecord
from services.auth.validation import Role, ServiceType
from services.common.convert import timestamp

SERVICE_TYPES = {
    pb.PUBLIC: ServiceType.PUBLIC,
    pb.PRIVATE: ServiceType.PRIVATE,
}
_SERVICE_TYPE_ENUM = {v.value: k for k, v in SERVICE_TYPES.items()}

ROLE_NAMES = {
    identity_pb2.VIEWER: Role.VIEWER,
    identity_pb2.EDITOR: Role.EDITOR,
    identity_pb2.ADMIN: Role.ADMIN,
    identity_pb2.OWNER: Role.OWNER,
}


def service_message(record: ServiceRecord) -> pb.PersonalizationService:
    return pb.PersonalizationService(
        id=str(record.id),
        parent_segment_id=record.parent_segment_id,
        name=record.name,
        description=record.description,
        type=_SERVICE_TYPE_ENUM[record.type],
        allowed_origins=record.allowed_origins,
        rate_limit=pb.RateLimit(
            requests_per_second=record.rate_per_second, burst=record.rate_burst
        ),
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
    )


def token_message(record: TokenRecord, token: str = "") -> pb.Token:
    return pb.Token(
        id=str(record.id),
        service_id=str(record.service_id),
        name=record.name,
        allowed_ips=record.allowed_ips,
        token=token,
        create_time=timestamp(record.create_time),
    )


def identity_secret_message(record: IdentitySecretRecord, secret: str = "") -> pb.IdentitySecret:
    return pb.IdentitySecret(
        id=str(record.id),
        service_id=str(record.service_id),
        name=record.name,
        secret=secret,
        create_time=timestamp(record.create_time),
    )
