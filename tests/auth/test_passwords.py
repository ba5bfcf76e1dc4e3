from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError

from services.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Passwords,
    check_password_policy,
)
from services.common.errors import InvalidArgument

GOOD = "correct horse battery staple"


def fullwidth(text: str) -> str:
    """The full-width form of ASCII letters and digits, as some IMEs type them."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


class CountingHasher(PasswordHasher):
    """A cheap argon2id hasher (tests need not spend 64 MiB) that counts verifications."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def passwords(hasher: CountingHasher) -> Passwords:
    return Passwords(hasher)


# --- policy ---------------------------------------------------------------------


def test_policy_constants_follow_nist() -> None:
    assert MIN_PASSWORD_LENGTH == 15
    assert MAX_PASSWORD_LENGTH >= 64


@pytest.mark.parametrize(
    ("password", "email"),
    [
        pytest.param("a" * 15, "", id="exactly-15"),
        pytest.param("a" * 256, "", id="exactly-256"),
        pytest.param(GOOD, "owner@shop.example", id="passphrase"),
        pytest.param("ünïcödé pässwörd", "", id="unicode"),
        pytest.param("owner@shop.example!", "owner@shop.example", id="contains-email"),
    ],
)
def test_policy_accepts(password: str, email: str) -> None:
    check_password_policy(password, email=email)


@pytest.mark.parametrize(
    ("password", "email", "message", "reason"),
    [
        pytest.param("", "", "Password can't be blank", "PASSWORD_BLANK", id="empty"),
        pytest.param(" " * 20, "", "Password can't be blank", "PASSWORD_BLANK", id="spaces"),
        pytest.param(
            "a" * 14,
            "",
            "Password is too short (minimum is 15 characters); "
            "a passphrase of a few unrelated words is long enough and easy to type",
            "PASSWORD_TOO_SHORT",
            id="14-chars",
        ),
        pytest.param(
            # Full-width characters count as the ASCII ones they normalise to.
            fullwidth("password1"),
            "",
            "Password is too short (minimum is 15 characters); "
            "a passphrase of a few unrelated words is long enough and easy to type",
            "PASSWORD_TOO_SHORT",
            id="fullwidth-short",
        ),
        pytest.param(
            "a" * 257,
            "",
            "Password is too long (maximum is 256 characters)",
            "PASSWORD_TOO_LONG",
            id="257-chars",
        ),
        pytest.param(
            "Owner@Shop.Example",
            "owner@shop.example",
            "Password can't be the same as the email address",
            "PASSWORD_IS_EMAIL",
            id="email-any-case",
        ),
    ],
)
def test_policy_refuses(password: str, email: str, message: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_password_policy(password, email=email)
    assert caught.value.field == "password"
    assert caught.value.message == message
    assert caught.value.reason == reason


# --- hashing --------------------------------------------------------------------


def test_hash_is_salted_argon2id(passwords: Passwords) -> None:
    first, second = passwords.hash(GOOD), passwords.hash(GOOD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert GOOD not in first


def test_verify_accepts_the_right_password_only(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    assert passwords.verify(stored, GOOD) is True
    assert passwords.verify(stored, GOOD + " ") is False
    assert passwords.verify(stored, GOOD.upper()) is False
    assert passwords.verify(stored, "") is False


def test_verify_normalises_unicode(passwords: Passwords) -> None:
    composed = "caf\u00e9 au lait, s'il vous pla\u00eet"
    decomposed = "cafe\u0301 au lait, s'il vous plai\u0302t"
    assert composed != decomposed
    assert passwords.verify(passwords.hash(composed), decomposed)
    assert passwords.verify(passwords.hash(fullwidth("Password12345678")), "Password12345678")


def test_unknown_user_costs_a_verification_too(
    passwords: Passwords, hasher: CountingHasher
) -> None:
    assert passwords.verify(None, GOOD) is False
    assert passwords.verify(None, GOOD) is False
    assert hasher.verifications == 2


def test_over_long_password_is_refused_without_hashing(
    passwords: Passwords, hasher: CountingHasher
) -> None:
    stored = passwords.hash(GOOD)
    assert passwords.verify(stored, "a" * (MAX_PASSWORD_LENGTH + 1)) is False
    assert hasher.verifications == 0


def test_corrupt_parameters_fail_closed(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    assert passwords.verify(stored.replace("m=8", "m=16"), GOOD) is False


def test_a_stored_value_that_is_no_hash_is_a_server_fault(passwords: Passwords) -> None:
    with pytest.raises(InvalidHashError):
        passwords.verify("plaintext-in-the-database", GOOD)


def test_needs_rehash_when_parameters_change(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    assert passwords.needs_rehash(stored) is False
    assert Passwords(CountingHasher(time_cost=2)).needs_rehash(stored) is True


def test_older_argon2i_hashes_still_verify_and_are_upgraded(passwords: Passwords) -> None:
    legacy = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I).hash(GOOD)
    assert passwords.verify(legacy, GOOD) is True
    assert passwords.needs_rehash(legacy) is True


def test_only_argon2id_hashers_are_accepted() -> None:
    with pytest.raises(ValueError, match="argon2id"):
        Passwords(PasswordHasher(type=Type.I))


def test_default_hasher_is_the_rfc_9106_profile() -> None:
    stored = Passwords().hash(GOOD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
