from __future__ import annotations

import re
import string
import zlib
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auth.secrets import (
    SECRET_PATTERN,
    DecryptionFailed,
    Secret,
    SecretKeys,
    SecretKind,
    TokenString,
    generate_secret,
    make_token,
    parse_api_key,
    parse_session,
    parse_token,
)
from services.common.errors import Unauthenticated

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # ASCII order
MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))
# Fixed examples, so that a change of format shows up as a failing test.
PUBLIC = generate_secret(SecretKind.PUBLIC_TOKEN)
PRIVATE = generate_secret(SecretKind.PRIVATE_TOKEN)
MASTER_KEY = generate_secret(SecretKind.MASTER_KEY)
WRITE_KEY = generate_secret(SecretKind.WRITE_ONLY_KEY)
SESSION = generate_secret(SecretKind.SESSION)


def _secret_from(entropy: bytes, kind: SecretKind) -> Secret:
    with mock.patch("services.auth.secrets.token_bytes", return_value=entropy):
        return generate_secret(kind)


# --- generation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        pytest.param(SecretKind.PUBLIC_TOKEN, "p13n_pub_", id="public"),
        pytest.param(SecretKind.PRIVATE_TOKEN, "p13n_priv_", id="private"),
        pytest.param(SecretKind.MASTER_KEY, "p13n_master_", id="master"),
        pytest.param(SecretKind.WRITE_ONLY_KEY, "p13n_write_", id="write-only"),
        pytest.param(SecretKind.SESSION, "p13n_sess_", id="session"),
    ],
)
def test_generated_secret_has_prefix_body_and_checksum(kind: SecretKind, prefix: str) -> None:
    secret = generate_secret(kind)
    text = secret.reveal()
    assert secret.kind is kind
    assert text.startswith(prefix)
    assert len(text) == len(prefix) + 43 + 6
    assert set(text[len(prefix) :]) <= set(BASE62)
    assert SECRET_PATTERN.fullmatch(text)


def test_generation_draws_32_bytes_from_the_csprng() -> None:
    with mock.patch("services.auth.secrets.token_bytes", return_value=b"\0" * 32) as draw:
        generate_secret(SecretKind.PUBLIC_TOKEN)
    draw.assert_called_once_with(32)


@pytest.mark.parametrize(
    "entropy",
    [
        pytest.param(b"\x00" * 32, id="all-zero"),
        pytest.param(b"\xff" * 32, id="all-ones-needs-every-digit"),
        pytest.param(bytes(range(32)), id="mixed"),
    ],
)
def test_every_256_bit_value_encodes_and_parses(entropy: bytes) -> None:
    secret = _secret_from(entropy, SecretKind.PUBLIC_TOKEN)
    assert parse_token(f"1/2/{secret.reveal()}").secret == secret


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_distinct_entropy_gives_distinct_secrets(a: bytes, b: bytes) -> None:
    # The encoding is injective, so all 256 bits reach the secret.
    same = _secret_from(a, SecretKind.PUBLIC_TOKEN) == _secret_from(b, SecretKind.PUBLIC_TOKEN)
    assert same == (a == b)


def test_generated_secrets_differ() -> None:
    assert len({generate_secret(SecretKind.PUBLIC_TOKEN).reveal() for _ in range(100)}) == 100


# --- parsing ----------------------------------------------------------------


def test_parse_token_round_trip() -> None:
    token = parse_token(f"12345/3/{PUBLIC.reveal()}")
    assert token == TokenString("12345", "3", PUBLIC)
    assert token.secret.kind is SecretKind.PUBLIC_TOKEN
    assert token.reveal() == f"12345/3/{PUBLIC.reveal()}"


def test_parse_token_accepts_private_tokens() -> None:
    # Whether a private token may be used on a path is decided after lookup.
    assert parse_token(f"a-1/r_2/{PRIVATE.reveal()}").secret.kind is SecretKind.PRIVATE_TOKEN


@pytest.mark.parametrize(
    ("text", "reason", "hint"),
    [
        pytest.param("", "TOKEN_MALFORMED", "<account_id>/<reactor_id>/<secret>", id="empty"),
        pytest.param(PUBLIC.reveal(), "TOKEN_MALFORMED", "<account_id>/", id="secret-only"),
        pytest.param(f"1/{PUBLIC.reveal()}", "TOKEN_MALFORMED", "<reactor_id>", id="two-parts"),
        pytest.param(f"1/2/3/{PUBLIC.reveal()}", "TOKEN_MALFORMED", "<secret>", id="four-parts"),
        pytest.param(f"/2/{PUBLIC.reveal()}", "TOKEN_MALFORMED", "<account_id>", id="no-account"),
        pytest.param(f"1//{PUBLIC.reveal()}", "TOKEN_MALFORMED", "<reactor_id>", id="no-reactor"),
        pytest.param("1/2/", "TOKEN_MALFORMED", "<secret>", id="no-secret"),
        pytest.param(f"1 /2/{PUBLIC.reveal()}", "TOKEN_MALFORMED", "letters, digits", id="space"),
        pytest.param(f"{'9' * 65}/2/{PUBLIC.reveal()}", "TOKEN_MALFORMED", "64", id="long-id"),
        pytest.param(f"1/2/{PUBLIC.reveal()}{'x' * 500}", "TOKEN_MALFORMED", "too long", id="huge"),
        pytest.param("1/2/ghp_abcdef", "TOKEN_MALFORMED", "p13n_priv_ or p13n_pub_", id="foreign"),
        pytest.param(f"1/2/{PUBLIC.reveal()[:-1]}", "TOKEN_MALFORMED", "truncated", id="short"),
        pytest.param(f"1/2/{PUBLIC.reveal()}0", "TOKEN_MALFORMED", "truncated", id="long"),
        pytest.param(
            f"1/2/{PUBLIC.reveal()[:-1]}!", "TOKEN_MALFORMED", "altered", id="bad-character"
        ),
        pytest.param(
            f"1/2/{MASTER_KEY.reveal()}",
            "TOKEN_MALFORMED",
            'this is a master API key; send API keys as "Authorization: TD1 <key>"',
            id="master-key",
        ),
        pytest.param(
            f"1/2/{WRITE_KEY.reveal()}",
            "TOKEN_MALFORMED",
            'this is a write-only API key; send API keys as "Authorization: TD1 <key>"',
            id="write-key",
        ),
        pytest.param(
            f"1/2/{PUBLIC.reveal()[:-1]}{'1' if PUBLIC.reveal()[-1] == '0' else '0'}",
            "TOKEN_CHECKSUM_MISMATCH",
            "checksum",
            id="checksum",
        ),
    ],
)
def test_parse_token_refusals(text: str, reason: str, hint: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        parse_token(text)
    assert caught.value.reason == reason
    assert caught.value.message.startswith("Malformed token: ")
    assert hint in caught.value.message
    for run in re.findall(r"[0-9A-Za-z]{12,}", text):
        assert run not in caught.value.message  # the input may be a secret: never echoed


def test_parse_api_key() -> None:
    assert parse_api_key(MASTER_KEY.reveal()) == MASTER_KEY
    assert parse_api_key(WRITE_KEY.reveal()).kind is SecretKind.WRITE_ONLY_KEY


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        pytest.param(
            PUBLIC.reveal(),
            "this is a public token; send tokens in the WP13n-Token header",
            id="public-token",
        ),
        pytest.param(
            PRIVATE.reveal(),
            "this is a private token; send tokens in the WP13n-Token header",
            id="private-token",
        ),
        pytest.param("", "p13n_master_ or p13n_write_", id="empty"),
        pytest.param(f"1/{WRITE_KEY.reveal()}", "p13n_master_ or p13n_write_", id="with-account"),
    ],
)
def test_parse_api_key_refusals(text: str, hint: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        parse_api_key(text)
    assert caught.value.reason == "API_KEY_MALFORMED"
    assert caught.value.message.startswith("Malformed API key: ")
    assert hint in caught.value.message


def test_parse_session() -> None:
    assert parse_session(SESSION.reveal()) == SESSION


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        pytest.param(
            WRITE_KEY.reveal(),
            'this is a write-only API key; send API keys as "Authorization: TD1 <key>"',
            id="api-key",
        ),
        pytest.param(
            PUBLIC.reveal(),
            "this is a public token; send tokens in the WP13n-Token header",
            id="token",
        ),
        pytest.param(SESSION.reveal()[:-2], "truncated", id="truncated"),
    ],
)
def test_parse_session_refusals(text: str, hint: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        parse_session(text)
    assert caught.value.reason == "SESSION_TOKEN_MALFORMED"
    assert caught.value.message.startswith("Malformed session token: ")
    assert hint in caught.value.message


def test_a_session_token_in_the_token_header_says_where_it_belongs() -> None:
    with pytest.raises(Unauthenticated) as caught:
        parse_token(f"1/2/{SESSION.reveal()}")
    assert caught.value.message == (
        "Malformed token: this is a session token; "
        'send session tokens as "Authorization: Bearer <session token>"'
    )


# --- checksum: every small change is caught before any lookup -----------------

# The kinds a request carries. An identity secret never travels: it stays on the site's
# server as a MAC key (docs/design.md#verified-identifiers), so no parser takes one.
KINDS = st.sampled_from([k for k in SecretKind if k is not SecretKind.IDENTITY_SECRET])
ENTROPY = st.binary(min_size=32, max_size=32)
ANY_CHAR = st.characters(codec="utf-8") | st.sampled_from(BASE62)


PARSERS = {
    "token": lambda text: parse_token(f"1/2/{text}"),
    "API key": parse_api_key,
    "session": parse_session,
}


def _accepted_by(text: str) -> list[str]:
    accepted = []
    for name, parse in PARSERS.items():
        try:
            parse(text)
        except Unauthenticated:
            continue
        accepted.append(name)
    return accepted


@given(KINDS, ENTROPY, st.data())
def test_checksum_rejects_every_single_character_substitution(
    kind: SecretKind, entropy: bytes, data: st.DataObject
) -> None:
    text = _secret_from(entropy, kind).reveal()
    assert len(_accepted_by(text)) == 1  # the unchanged secret parses, as its own kind only
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(ANY_CHAR.filter(lambda c: c != text[index]))
    changed = text[:index] + replacement + text[index + 1 :]
    # Refused by every parser, so not even a changed kind letter slips through.
    assert _accepted_by(changed) == [], (index, replacement)


@given(KINDS, ENTROPY, st.data())
def test_checksum_rejects_every_deletion_and_insertion(
    kind: SecretKind, entropy: bytes, data: st.DataObject
) -> None:
    text = _secret_from(entropy, kind).reveal()
    index = data.draw(st.integers(0, len(text) - 1))
    assert not _accepted_by(text[:index] + text[index + 1 :])
    inserted = data.draw(ANY_CHAR)
    assert not _accepted_by(text[:index] + inserted + text[index:])


@given(KINDS, ENTROPY, st.data())
def test_checksum_rejects_every_adjacent_swap(
    kind: SecretKind, entropy: bytes, data: st.DataObject
) -> None:
    text = _secret_from(entropy, kind).reveal()
    index = data.draw(st.integers(0, len(text) - 2).filter(lambda i: text[i] != text[i + 1]))
    assert not _accepted_by(text[:index] + text[index + 1] + text[index] + text[index + 2 :])


# --- hiding ---------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    value = PUBLIC.reveal()
    token = TokenString("1", "2", PUBLIC)
    for rendered in (repr(PUBLIC), str(PUBLIC), f"{PUBLIC}", "%s" % (PUBLIC,), repr(token)):  # noqa: UP031
        assert value not in rendered
        assert value[len("p13n_pub_") :][:6] not in rendered
    assert repr(PUBLIC) == "Secret(PUBLIC_TOKEN, p13n_pub_…)"


def test_secret_equality_and_unhashability() -> None:
    same = Secret(PUBLIC.reveal(), SecretKind.PUBLIC_TOKEN)
    assert same == PUBLIC
    assert PUBLIC != PRIVATE
    assert PUBLIC.reveal() != PUBLIC  # never equal to plaintext by accident
    with pytest.raises(TypeError):
        hash(PUBLIC)


def test_secret_pattern_finds_leaks_in_text() -> None:
    line = f'request token="12345/3/{PUBLIC.reveal()}" key={WRITE_KEY.reveal()}, done'
    assert SECRET_PATTERN.findall(line) == [PUBLIC.reveal(), WRITE_KEY.reveal()]
    assert SECRET_PATTERN.search(PUBLIC.reveal()[:-1]) is None
    assert SECRET_PATTERN.search(f"x{PUBLIC.reveal()}") is None


# --- make_token -------------------------------------------------------------------


def test_make_token_round_trips_through_the_parser() -> None:
    token = make_token("acct_1", "7", PRIVATE)
    assert parse_token(token.reveal()) == token


@pytest.mark.parametrize(
    ("account_id", "reactor_id", "secret"),
    [
        pytest.param("", "7", PUBLIC, id="blank-account"),
        pytest.param("1", "a/b", PUBLIC, id="slash-in-reactor"),
        pytest.param("1", "7", MASTER_KEY, id="api-key-secret"),
    ],
)
def test_make_token_refuses_what_the_parser_would(
    account_id: str, reactor_id: str, secret: Secret
) -> None:
    with pytest.raises(ValueError, match=r"must match|is not a personalization token secret"):
        make_token(account_id, reactor_id, secret)


# --- lookup hash --------------------------------------------------------------------


def test_lookup_hash_is_stable_and_key_dependent() -> None:
    keys = SecretKeys(MASTER)
    digest = keys.lookup_hash(PUBLIC)
    assert len(digest) == 32
    assert digest == keys.lookup_hash(PUBLIC)
    assert digest == SecretKeys(MASTER).lookup_hash(Secret(PUBLIC.reveal(), PUBLIC.kind))
    assert digest != SecretKeys(OTHER_MASTER).lookup_hash(PUBLIC)
    assert digest != keys.lookup_hash(PRIVATE)
    assert PUBLIC.reveal().encode() not in digest


def test_checksum_is_crc32_of_prefix_and_body_in_base62() -> None:
    # Spelled out independently so that scanners in other languages can follow it.
    text = _secret_from(bytes(range(32)), SecretKind.WRITE_ONLY_KEY).reveal()
    head, checksum = text[:-6], text[-6:]
    decoded = 0
    for char in checksum:
        decoded = decoded * 62 + BASE62.index(char)
    assert decoded == zlib.crc32(head.encode())


def test_format_and_lookup_hash_are_pinned() -> None:
    # Stored hashes must stay findable across releases: a change here is a
    # migration, not a refactoring.
    secret = _secret_from(b"\x00" * 32, SecretKind.PUBLIC_TOKEN)
    assert secret.reveal() == "p13n_pub_" + "0" * 43 + "4Q4Gek"
    assert SecretKeys(MASTER).lookup_hash(secret).hex() == (
        "e7fca8f1d303228b444c252d09a49d4265b677a9199b1b70e6808b49bd6f7fa9"
    )


def test_matches_compares_against_a_stored_hash() -> None:
    keys = SecretKeys(MASTER)
    stored = keys.lookup_hash(PUBLIC)
    assert keys.matches(PUBLIC, stored)
    assert not keys.matches(PRIVATE, stored)
    assert not SecretKeys(OTHER_MASTER).matches(PUBLIC, stored)


def test_master_key_must_be_long_enough() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        SecretKeys(b"\x01" * 31)


def test_keys_are_hidden() -> None:
    assert repr(SecretKeys(MASTER)) == "SecretKeys(<hidden>)"


# --- encrypted copy ----------------------------------------------------------------


def test_encryption_round_trips() -> None:
    keys = SecretKeys(MASTER)
    blob = keys.encrypt(PRIVATE, "tok_1")
    assert PRIVATE.reveal().encode() not in blob
    opened = keys.decrypt(blob, "tok_1")
    assert opened == PRIVATE
    assert opened.kind is SecretKind.PRIVATE_TOKEN
    assert SecretKeys(MASTER).decrypt(blob, "tok_1") == PRIVATE  # same key, new instance


def test_each_encryption_uses_a_fresh_nonce() -> None:
    keys = SecretKeys(MASTER)
    assert keys.encrypt(PUBLIC, "tok_1") != keys.encrypt(PUBLIC, "tok_1")


@pytest.mark.parametrize(
    ("master", "record_id"),
    [
        pytest.param(MASTER, "tok_2", id="other-record"),
        pytest.param(MASTER, "tok_", id="prefix-of-record"),
        pytest.param(OTHER_MASTER, "tok_1", id="other-key"),
    ],
)
def test_decryption_fails_with_the_wrong_record_or_key(master: bytes, record_id: str) -> None:
    blob = SecretKeys(MASTER).encrypt(PUBLIC, "tok_1")
    with pytest.raises(DecryptionFailed):
        SecretKeys(master).decrypt(blob, record_id)


@given(st.data())
def test_decryption_fails_on_any_altered_byte(data: st.DataObject) -> None:
    keys = SecretKeys(MASTER)
    blob = bytearray(keys.encrypt(PUBLIC, "tok_1"))
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(DecryptionFailed):
        keys.decrypt(bytes(blob), "tok_1")


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x01" + b"\x00" * 12, id="header-only"),
        pytest.param(b"\x02" + b"\x00" * 60, id="unknown-version"),
    ],
)
def test_decryption_refuses_malformed_copies(blob: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        SecretKeys(MASTER).decrypt(blob, "tok_1")


def test_decryption_failure_is_not_a_caller_error() -> None:
    # It must surface as INTERNAL, so it must not be one of the errors the interceptor
    # maps to a client's mistake.
    from services.common.errors import P13nError

    assert not issubclass(DecryptionFailed, P13nError)
