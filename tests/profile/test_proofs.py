"""The MAC check of verified identifiers (services/profile/proofs.py)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from p13n.auth.v1 import identity_pb2 as idp

from services.common import events
from services.common.errors import InvalidArgument
from services.profile import proofs
from services.profile.proofs import Failure, Proofs
from services.profile.stitching import StitchingKey

SECRET = "p13n_idv_" + "a" * 49
OLD = "p13n_idv_" + "b" * 49
KEYS = (
    StitchingKey("td_client_id"),
    StitchingKey("member_id", r"M-[0-9]{4}", verified=True),
    StitchingKey("email", verified=True),
)


def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_a_proof_is_hmac_sha256_of_the_key_name_newline_value_in_hex() -> None:
    # What a site's backend computes, written out with the standard library alone.
    assert proofs.sign(SECRET, "member_id", "M-1001") == _mac(SECRET, "member_id\nM-1001")


def test_a_valid_proof_from_any_current_secret_is_accepted() -> None:
    for secret in (SECRET, OLD):
        given = {"member_id": proofs.sign(secret, "member_id", "M-1001")}
        assert Proofs(given, (SECRET, OLD)).check("member_id", "M-1001") is None
    upper = {"member_id": proofs.sign(SECRET, "member_id", "M-1001").upper()}
    assert Proofs(upper, (SECRET,)).check("member_id", "M-1001") is None


@pytest.mark.parametrize(
    ("given", "failure"),
    [
        pytest.param({}, Failure.MISSING, id="no-proof"),
        pytest.param({"member_id": ""}, Failure.INVALID, id="empty"),
        pytest.param({"member_id": "00" * 32}, Failure.INVALID, id="zeros"),
        pytest.param(
            {"member_id": _mac(SECRET, "member_id\nM-1002")}, Failure.INVALID, id="other-value"
        ),
        pytest.param({"member_id": _mac(SECRET, "email\nM-1001")}, Failure.INVALID, id="other-key"),
        pytest.param({"member_id": _mac(SECRET, "M-1001")}, Failure.INVALID, id="value-alone"),
        pytest.param(
            {"member_id": _mac("p13n_idv_other", "member_id\nM-1001")},
            Failure.INVALID,
            id="other-secret",
        ),
        pytest.param({"member_id": "é" * 64}, Failure.INVALID, id="non-ascii"),
    ],
)
def test_a_missing_or_wrong_proof_fails(given: dict[str, str], failure: Failure) -> None:
    assert Proofs(given, (SECRET,)).check("member_id", "M-1001") is failure


def test_no_secrets_means_no_proof_is_valid() -> None:
    given = {"member_id": proofs.sign(SECRET, "member_id", "M-1001")}
    assert Proofs(given, ()).check("member_id", "M-1001") is Failure.INVALID


def test_screen_drops_only_the_unproven_verified_values() -> None:
    event: events.Event = {
        "td_client_id": "c-1",
        "member_id": "M-1001",
        "email": "a@b.example",
        "product": "tent",
    }
    given = {"email": proofs.sign(SECRET, "email", "a@b.example")}
    kept, failed = proofs.screen(KEYS, event, Proofs(given, (SECRET,)))
    assert kept == {"td_client_id": "c-1", "email": "a@b.example", "product": "tent"}
    assert failed == (("member_id", Failure.MISSING),)
    assert event["member_id"] == "M-1001"  # the caller's event is not changed


def test_screen_leaves_values_that_are_no_identity_anyway() -> None:
    # Not matching the regex: stitching would not use it, so it is no claim to prove.
    event: events.Event = {"td_client_id": "c-1", "member_id": "nope"}
    assert proofs.screen(KEYS, event, Proofs({}, ())) == (event, ())


def test_a_number_is_proven_as_its_identity_string() -> None:
    keys = (StitchingKey("td_client_id"), StitchingKey("member_no", verified=True))
    given = {"member_no": proofs.sign(SECRET, "member_no", "1001")}
    event: events.Event = {"td_client_id": "c", "member_no": 1001}
    assert proofs.screen(keys, event, Proofs(given, (SECRET,))) == (event, ())


def test_take_strips_the_proofs_from_the_stored_event() -> None:
    body: events.Event = {"td_client_id": "c", proofs.FIELD: {"member_id": "ab"}}
    (event, text), given = proofs.take((body, events.encode(body)))
    assert event == {"td_client_id": "c"}
    assert text == '{"td_client_id":"c"}'
    assert given == {"member_id": "ab"}
    plain: events.Event = {"td_client_id": "c"}
    assert proofs.take((plain, "x")) == ((plain, "x"), {})


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("ab", id="string"),
        pytest.param(["ab"], id="list"),
        pytest.param({"member_id": 1}, id="number"),
        pytest.param({"member_id": "a" * 257}, id="too-long"),
        pytest.param({f"k{i}": "ab" for i in range(21)}, id="too-many"),
    ],
)
def test_a_malformed_proofs_field_is_a_clear_400(raw: object) -> None:
    body: events.Event = {"td_client_id": "c", proofs.FIELD: raw}
    with pytest.raises(InvalidArgument, match="p13n_proofs must be an object"):
        proofs.take((body, events.encode(body)))


@pytest.mark.parametrize(
    ("caller", "trusted"),
    [
        pytest.param(None, False, id="no-identity"),
        pytest.param(idp.Identity(caller_service="offers"), False, id="a-service-alone"),
        pytest.param(idp.Identity(token_type=idp.TOKEN_TYPE_PUBLIC), False, id="public-token"),
        pytest.param(idp.Identity(api_key_type=idp.WRITE_ONLY), False, id="write-only-key"),
        pytest.param(
            idp.Identity(token_type=idp.TOKEN_TYPE_PUBLIC, api_key_type=idp.WRITE_ONLY),
            False,
            id="public-token-and-write-only-key",
        ),
        pytest.param(
            idp.Identity(token_type=idp.TOKEN_TYPE_PUBLIC, api_key_type=idp.MASTER),
            False,
            id="public-token-and-master-key",
        ),
        pytest.param(idp.Identity(role=idp.OWNER), False, id="a-session"),
        pytest.param(idp.Identity(token_type=idp.TOKEN_TYPE_PRIVATE), True, id="private-token"),
        pytest.param(idp.Identity(api_key_type=idp.MASTER), True, id="master-key"),
    ],
)
def test_only_a_private_credential_is_trusted(caller: idp.Identity | None, trusted: bool) -> None:
    assert proofs.trusted(caller) is trusted


def test_an_unprovable_caller_fails_every_verified_value_even_with_a_valid_proof() -> None:
    given = {"member_id": proofs.sign(SECRET, "member_id", "M-1001")}
    refused = Proofs(given, (SECRET,), accepted=False)
    assert refused.check("member_id", "M-1001") is Failure.NOT_ACCEPTED
    event: events.Event = {"td_client_id": "c", "member_id": "M-1001"}
    assert proofs.screen(KEYS, event, proofs.UNPROVABLE) == (
        {"td_client_id": "c"},
        (("member_id", Failure.NOT_ACCEPTED),),
    )
