"""The metadata every internal call carries (``services.common.clients``): the signed
identity and the id of the request being served."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from p13n.auth.v1 import identity_pb2

from services.common import clients, identity, logs

KEY = os.urandom(32)


@pytest.fixture
def serving_request() -> Iterator[str]:
    """A request being served, as the interceptor leaves it: its id and its caller."""
    caller = identity_pb2.Identity(account_id="7", role=identity_pb2.OWNER)
    tokens = (
        logs.request_id.set("gateway-request-1"),
        identity.current.set(caller),
        identity.current_header.set(identity.sign(caller, KEY)),
    )
    yield "gateway-request-1"
    identity.current_header.reset(tokens[2])
    identity.current.reset(tokens[1])
    logs.request_id.reset(tokens[0])


@pytest.mark.parametrize(
    ("metadata_of", "account_id"),
    [
        (lambda: clients.as_service("offers", KEY), ""),  # the service's own identity
        (lambda: clients.on_behalf_of_caller_as("offers", KEY), "7"),
        (clients.on_behalf_of_caller, "7"),
    ],
    ids=["as_service", "on_behalf_of_caller_as", "on_behalf_of_caller"],
)
def test_every_internal_call_carries_the_served_request_id(
    serving_request: str, metadata_of: Callable[[], clients.Metadata], account_id: str
) -> None:
    metadata = dict(metadata_of())
    assert metadata[logs.REQUEST_ID_HEADER] == serving_request
    # ...beside the identity it carried before.
    assert identity.verify(metadata[identity.IDENTITY_HEADER], KEY).account_id == account_id


def test_outside_a_request_no_id_is_sent() -> None:
    metadata = dict(clients.as_service("profile", KEY))
    assert set(metadata) == {identity.IDENTITY_HEADER}
