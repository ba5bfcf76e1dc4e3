from __future__ import annotations

import pytest
from p13n.auth.v1 import identity_pb2

from services.common import identity
from services.common.errors import Unauthenticated

KEY = b"k" * 32


def _identity() -> identity_pb2.Identity:
    return identity_pb2.Identity(account_id="1", token_type=identity_pb2.TOKEN_TYPE_PUBLIC)


def test_round_trip() -> None:
    header = identity.sign(_identity(), KEY, now=1000)
    decoded = identity.verify(header, KEY, clock=lambda: 1003)
    assert decoded.account_id == "1"
    assert decoded.token_type == identity_pb2.TOKEN_TYPE_PUBLIC


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        pytest.param(lambda h: h, "signature", id="other-key"),
        pytest.param(lambda h: "x" + h, "signature|Malformed", id="tampered"),
        pytest.param(lambda h: h.replace(".", ""), "Malformed", id="no-separator"),
    ],
)
def test_forgeries_are_refused(mangle, message) -> None:  # type: ignore[no-untyped-def]
    header = mangle(identity.sign(_identity(), b"x" * 32, now=1000))
    with pytest.raises(Unauthenticated, match=message):
        identity.verify(header, KEY, clock=lambda: 1000)


def test_a_stale_identity_is_refused() -> None:
    header = identity.sign(_identity(), KEY, now=1000)
    with pytest.raises(Unauthenticated, match="too old"):
        identity.verify(header, KEY, clock=lambda: 1000 + identity.MAX_AGE_SECONDS + 1)


def test_an_identity_lives_at_most_max_age_after_its_issue() -> None:
    # Issued late in second 1000: issued_at rounds down, so its life ends sooner, never later.
    header = identity.sign(_identity(), KEY, now=1000.99)
    assert identity.verify(header, KEY, clock=lambda: 1000 + identity.MAX_AGE_SECONDS).account_id
    with pytest.raises(Unauthenticated, match="too old"):
        identity.verify(header, KEY, clock=lambda: 1000 + identity.MAX_AGE_SECONDS + 0.01)


def test_a_changed_field_breaks_the_signature() -> None:
    _, mac = identity.sign(_identity(), KEY, now=1000).split(".")
    # The forged identity's payload, as sign() writes it (the payload does not depend on the
    # key), joined to the genuine identity's MAC.
    forged_payload, _ = identity.sign(
        identity_pb2.Identity(account_id="2"), b"other key".ljust(32), now=1000
    ).split(".")
    with pytest.raises(Unauthenticated, match="signature"):
        identity.verify(f"{forged_payload}.{mac}", KEY, clock=lambda: 1000)
