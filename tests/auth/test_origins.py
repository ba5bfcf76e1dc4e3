from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auth.origins import (
    MAX_ALLOWED_ORIGINS,
    AllowedOrigin,
    Origin,
    OriginMatcher,
    origin_allowed,
    parse_allowed_origin,
    parse_origin,
    validate_allowed_origins,
)
from services.common.errors import InvalidArgument

# --- validation on save -----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "saved"),
    [
        pytest.param("https://shop.example", "https://shop.example", id="https"),
        pytest.param("http://localhost:3000", "http://localhost:3000", id="http-dev"),
        pytest.param("HTTPS://Shop.EXAMPLE", "https://shop.example", id="lowercased"),
        pytest.param("https://shop.example:443", "https://shop.example", id="default-https"),
        pytest.param("http://shop.example:80", "http://shop.example", id="default-http"),
        pytest.param("https://shop.example:80", "https://shop.example:80", id="http-port-on-https"),
        pytest.param("https://shop.example:8443", "https://shop.example:8443", id="port"),
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8000", id="ipv4"),
        pytest.param("http://[::1]:8080", "http://[::1]:8080", id="ipv6"),
        pytest.param("http://[0:0::0001]", "http://[::1]", id="ipv6-compressed"),
        pytest.param("https://*.shop.example", "https://*.shop.example", id="wildcard"),
        pytest.param("https://*.Shop.Example:8443", "https://*.shop.example:8443", id="wc-port"),
        pytest.param("  https://shop.example\n", "https://shop.example", id="pasted-blanks"),
        pytest.param("https://xn--bcher-kva.example", "https://xn--bcher-kva.example", id="idn"),
        pytest.param("https://my_host.shop.example", "https://my_host.shop.example", id="under"),
        pytest.param("https://a-b.c9.example", "https://a-b.c9.example", id="hyphen-digit"),
    ],
)
def test_valid_origins_are_saved_normalised(entry: str, saved: str) -> None:
    assert str(parse_allowed_origin(entry)) == saved


def _message(entry: str) -> str:
    with pytest.raises(InvalidArgument) as caught:
        parse_allowed_origin(entry)
    assert caught.value.field == "allowed_origins"
    assert caught.value.reason == "ALLOWED_ORIGIN_INVALID"
    return caught.value.message


BAD_HOST = (
    "has an invalid host: use a domain name such as shop.example, an IPv4 address or a "
    "bracketed IPv6 address"
)
ONE_WILDCARD = 'may have only one wildcard, as its whole first label, e.g. "https://*.shop.example"'


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param("", "Allowed origin can't be blank", id="blank"),
        pytest.param("   ", "Allowed origin can't be blank", id="spaces"),
        pytest.param(
            "null",
            'Allowed origin "null" is not allowed: sandboxed frames and local files send it, '
            "so it would let any such page in",
            id="null",
        ),
        pytest.param(
            "shop.example",
            'Allowed origin "shop.example" must start with https:// or http://, '
            'e.g. "https://shop.example"',
            id="no-scheme",
        ),
        pytest.param(
            "ftp://shop.example",
            'Allowed origin "ftp://shop.example" must use https or http, '
            'e.g. "https://shop.example"',
            id="ftp",
        ),
        pytest.param(
            "chrome-extension://abcdef",
            'Allowed origin "chrome-extension://abcdef" must use https or http, '
            'e.g. "https://shop.example"',
            id="extension",
        ),
        pytest.param(
            "https://Shop.example/",
            'Allowed origin "https://Shop.example/" must not end with a slash: '
            'use "https://shop.example"',
            id="trailing-slash",
        ),
        pytest.param(
            "https://shop.example/cart",
            'Allowed origin "https://shop.example/cart" must not have a path, query or '
            'fragment: use "https://shop.example"',
            id="path",
        ),
        pytest.param(
            "https://shop.example?a=1",
            'Allowed origin "https://shop.example?a=1" must not have a path, query or '
            'fragment: use "https://shop.example"',
            id="query",
        ),
        pytest.param(
            "https://shop.example#top",
            'Allowed origin "https://shop.example#top" must not have a path, query or '
            'fragment: use "https://shop.example"',
            id="fragment",
        ),
        pytest.param(
            "https://me:pw@shop.example",
            'Allowed origin "https://me:pw@shop.example" must not contain a user name or password',
            id="userinfo",
        ),
        *(
            pytest.param(
                f"https://shop.example:{port}",
                f'Allowed origin "https://shop.example:{port}" has an invalid port: '
                "use a number from 1 to 65535",
                id=f"port-{port or 'empty'}",
            )
            for port in ("", "0", "65536", "http", "-1", "٣")
        ),
        pytest.param(
            "*",
            'Allowed origin "*" must start with https:// or http://, e.g. "https://shop.example"',
            id="star",
        ),
        pytest.param("https://*", f'Allowed origin "https://*" {ONE_WILDCARD}', id="bare-star"),
        pytest.param(
            "https://a.*.example", f'Allowed origin "https://a.*.example" {ONE_WILDCARD}', id="mid"
        ),
        pytest.param(
            "https://*a.example", f'Allowed origin "https://*a.example" {ONE_WILDCARD}', id="part"
        ),
        pytest.param(
            "https://*.*.example",
            f'Allowed origin "https://*.*.example" {ONE_WILDCARD}',
            id="two-wildcards",
        ),
        pytest.param(
            "https://*.example",
            'Allowed origin "https://*.example" must have at least two labels after the '
            'wildcard, e.g. "https://*.shop.example", so that it cannot cover a whole '
            "top-level domain",
            id="wildcard-tld",
        ),
        pytest.param(
            "http://*.shop.example",
            'Allowed origin "http://*.shop.example" must use https to have a wildcard',
            id="wildcard-http",
        ),
        pytest.param(
            "https://*.10.0.0.1",
            'Allowed origin "https://*.10.0.0.1" cannot combine a wildcard with an IP address',
            id="wildcard-ipv4",
        ),
        pytest.param(
            "https://*.[::1]",
            'Allowed origin "https://*.[::1]" cannot combine a wildcard with an IP address',
            id="wildcard-ipv6",
        ),
        pytest.param(
            "http://fe80::1",
            'Allowed origin "http://fe80::1" must put an IPv6 address in brackets, '
            'e.g. "http://[::1]:8080"',
            id="ipv6-unbracketed",
        ),
        pytest.param(
            "https://bücher.example",
            'Allowed origin "https://bücher.example" must be written in ASCII: browsers send '
            "the punycode form of the host (e.g. xn--bcher-kva.example)",
            id="unicode-host",
        ),
        *(
            pytest.param(f"https://{host}", f'Allowed origin "https://{host}" {BAD_HOST}', id=name)
            for name, host in [
                ("empty-host", ""),
                ("empty-label", "shop..example"),
                ("leading-hyphen", "-shop.example"),
                ("trailing-dot", "shop.example."),
                ("bad-char", "shop!.example"),
                ("long-label", "a" * 64 + ".example"),
                ("ipv4-out-of-range", "256.1.1.1"),
                ("ipv4-short", "127.1"),
                ("ipv4-leading-zero", "010.0.0.1"),
                ("ipv6-garbage", "[zz::1]"),
                ("ipv6-zone", "[fe80::1%eth0]"),
                ("after-bracket", "[::1]x"),
                ("unclosed-bracket", "[::1"),
                ("before-bracket", "a[::1]"),
            ]
        ),
    ],
)
def test_invalid_origins_are_refused_with_actionable_messages(entry: str, message: str) -> None:
    assert _message(entry) == message


def _over_public_suffix(suffix: str, saved: str | None = None) -> str:
    return (
        f'Allowed origin "{saved or f"https://*.{suffix}"}" cannot have a wildcard over '
        f"{suffix}: it is a public suffix, under which anyone can register a site; put the "
        f'wildcard over your own domain, e.g. "https://*.yourshop.{suffix}"'
    )


@pytest.mark.parametrize(
    ("entry", "suffix"),
    [
        pytest.param("https://*.co.uk", "co.uk", id="icann"),
        pytest.param("https://*.CO.UK", "co.uk", id="icann-uppercase"),
        pytest.param("https://*.co.uk:8443", "co.uk", id="icann-port"),
        pytest.param("https://*.github.io", "github.io", id="private-section"),
        pytest.param("https://*.s3.amazonaws.com", "s3.amazonaws.com", id="private-three-labels"),
        pytest.param("https://*.xn--55qx5d.cn", "xn--55qx5d.cn", id="idn-suffix"),
        pytest.param("https://*.foo.kawasaki.jp", "foo.kawasaki.jp", id="psl-wildcard-rule"),
    ],
)
def test_a_wildcard_over_a_public_suffix_is_refused(entry: str, suffix: str) -> None:
    # The entry is shown as it would be saved: lower-cased, default port dropped.
    assert _message(entry) == _over_public_suffix(suffix, entry.lower())


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("https://*.shop.example", id="unlisted-tld"),
        pytest.param("https://*.shop.co.uk", id="under-icann-suffix"),
        pytest.param("https://*.me.github.io", id="under-private-suffix"),
        # Exception rules (!city.kawasaki.jp beside *.kawasaki.jp) make a registrable name.
        pytest.param("https://*.city.kawasaki.jp", id="psl-exception-rule"),
    ],
)
def test_a_wildcard_over_a_registrable_domain_is_accepted(entry: str) -> None:
    assert str(parse_allowed_origin(entry)) == entry


def test_a_public_suffix_error_names_the_entry_index() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_allowed_origins(["https://*.shop.example", "https://*.github.io"])
    assert caught.value.field == "allowed_origins[1]"
    assert caught.value.reason == "ALLOWED_ORIGIN_INVALID"


def test_an_exact_origin_on_a_public_suffix_is_the_suffix_owners_to_allow() -> None:
    # github.io itself is served by one party; only a wildcard over it covers strangers.
    assert str(parse_allowed_origin("https://github.io")) == "https://github.io"


def test_a_stored_wildcard_over_a_public_suffix_matches_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Saved before the check existed, or made public by a newer list: fail closed, loudly.
    matcher = OriginMatcher(["https://*.co.uk", WILDCARD])
    assert not matcher.matches("https://attacker.co.uk")
    assert matcher.matches("https://m.shop.example")
    assert "https://*.co.uk is a wildcard over a public suffix and matches nothing" in caplog.text


def test_an_overlong_entry_is_refused_and_not_repeated_whole() -> None:
    entry = "https://" + "a" * 400 + ".example"
    message = _message(entry)
    assert message.startswith('Allowed origin "https://aaaa')
    assert message.endswith('…" is too long (maximum is 300 characters)')
    assert entry not in message


def test_list_errors_name_the_entry_index() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_allowed_origins(["https://shop.example", "https://shop.example/"])
    assert caught.value.field == "allowed_origins[1]"


def test_list_is_normalised_and_deduplicated_in_order() -> None:
    entries = [
        "https://b.example",
        "HTTPS://A.example:443",
        "https://b.example",
        "https://a.example",
    ]
    assert validate_allowed_origins(entries) == ["https://b.example", "https://a.example"]


def test_list_size_limit() -> None:
    entries = [f"https://s{i}.shop.example" for i in range(MAX_ALLOWED_ORIGINS)]
    assert len(validate_allowed_origins(entries)) == MAX_ALLOWED_ORIGINS
    with pytest.raises(InvalidArgument) as caught:
        validate_allowed_origins([*entries, "https://one-more.example"])
    assert caught.value.field == "allowed_origins"
    assert caught.value.message.startswith("Allowed origins is too long (maximum is 100 entries)")


# --- matching a request Origin ---------------------------------------------------------

EXACT = "https://shop.example"
WILDCARD = "https://*.shop.example"


@pytest.mark.parametrize(
    ("allowed", "origin", "expected"),
    [
        pytest.param(EXACT, "https://shop.example", True, id="exact"),
        pytest.param(EXACT, "https://SHOP.Example", True, id="exact-case-insensitive-host"),
        pytest.param(EXACT, "HTTPS://shop.example", True, id="exact-case-insensitive-scheme"),
        pytest.param(EXACT, "https://shop.example:443", True, id="exact-default-port-explicit"),
        pytest.param(EXACT, "http://shop.example", False, id="exact-other-scheme"),
        pytest.param(EXACT, "https://shop.example:8443", False, id="exact-other-port"),
        pytest.param(EXACT, "https://m.shop.example", False, id="exact-no-subdomains"),
        pytest.param(EXACT, "https://shop.example.evil.com", False, id="exact-suffix-attack"),
        pytest.param(EXACT, "https://evilshop.example", False, id="exact-prefix-attack"),
        pytest.param(EXACT, "https://shop.example/", False, id="exact-trailing-slash"),
        pytest.param(EXACT, "https://shop.example.", False, id="exact-trailing-dot"),
        pytest.param(EXACT, " https://shop.example", False, id="exact-leading-space"),
        pytest.param(EXACT, "https://shop.example https://x.example", False, id="origin-list"),
        pytest.param(EXACT, "https://user@shop.example", False, id="userinfo"),
        pytest.param(WILDCARD, "https://m.shop.example", True, id="wc-one-label"),
        pytest.param(WILDCARD, "https://M.Shop.Example", True, id="wc-case-insensitive"),
        pytest.param(WILDCARD, "https://www-2.shop.example", True, id="wc-hyphen-digit"),
        pytest.param(WILDCARD, "https://shop.example", False, id="wc-not-the-parent"),
        pytest.param(WILDCARD, "https://a.b.shop.example", False, id="wc-not-two-labels"),
        pytest.param(WILDCARD, "https://shop.example.evil.com", False, id="wc-suffix-attack"),
        pytest.param(WILDCARD, "https://m.shop.example.evil.com", False, id="wc-suffix-attack-2"),
        pytest.param(WILDCARD, "https://mshop.example", False, id="wc-glued"),
        pytest.param(WILDCARD, "https://m-shop.example", False, id="wc-hyphen-glued"),
        pytest.param(WILDCARD, "http://m.shop.example", False, id="wc-http"),
        pytest.param(WILDCARD, "https://m.shop.example:8443", False, id="wc-other-port"),
        pytest.param(WILDCARD, "https://.shop.example", False, id="wc-empty-label"),
        pytest.param(WILDCARD, "https://*.shop.example", False, id="wc-literal-star"),
        pytest.param(WILDCARD, "https://m.shop.example.", False, id="wc-trailing-dot"),
        pytest.param("https://*.shop.example:8443", "https://m.shop.example:8443", True, id="wcp"),
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8000", True, id="ipv4"),
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8001", False, id="ipv4-port"),
        pytest.param("http://127.0.0.1:8000", "http://localhost:8000", False, id="not-localhost"),
        pytest.param("http://[::1]:8080", "http://[0::1]:8080", True, id="ipv6-forms"),
        pytest.param("http://[::1]:8080", "http://[::2]:8080", False, id="ipv6-other"),
        pytest.param(EXACT, "null", False, id="null"),
        pytest.param(EXACT, "NULL", False, id="null-uppercase"),
        pytest.param(EXACT, "", False, id="empty"),
        pytest.param(EXACT, "file://", False, id="file"),
    ],
)
def test_request_origin_matching(allowed: str, origin: str, expected: bool) -> None:
    assert OriginMatcher([allowed]).matches(origin) is expected
    assert origin_allowed(origin, [allowed]) is expected
    parsed = parse_origin(origin)
    assert parse_allowed_origin(allowed).matches(parsed) is expected if parsed else not expected


def test_null_matches_nothing_whatever_is_allowed() -> None:
    matcher = OriginMatcher([EXACT, WILDCARD, "http://localhost:3000"])
    assert not matcher.matches("null")


def test_no_allowed_origins_match_nothing() -> None:
    assert not OriginMatcher([]).matches(EXACT)


def test_matcher_accepts_parsed_entries_and_origins() -> None:
    matcher = OriginMatcher([AllowedOrigin("https", "shop.example", 443, wildcard=True)])
    assert matcher.matches(Origin("https", "m.shop.example", 443))
    assert not matcher.matches(Origin("https", "shop.example", 443))


def test_a_corrupt_stored_entry_is_a_server_fault_not_a_silent_miss() -> None:
    with pytest.raises(ValueError, match="stored allowed origin is invalid"):
        OriginMatcher(["https://shop.example/"])


def test_parse_origin_fills_in_the_default_port() -> None:
    assert parse_origin("https://Shop.example") == Origin("https", "shop.example", 443)
    assert parse_origin("http://shop.example:8080") == Origin("http", "shop.example", 8080)
    assert str(Origin("https", "shop.example", 443)) == "https://shop.example"


# --- properties --------------------------------------------------------------------------

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=6).filter(
    lambda s: not s.startswith("-") and not s.endswith("-")
)
TAILS = st.lists(st.sampled_from(["shop", "example", "evil", "com"]), max_size=3)


@given(st.lists(LABEL, max_size=2), TAILS, st.sampled_from(["https", "http"]))
def test_a_wildcard_matches_exactly_one_label_before_its_suffix(
    heads: list[str], tail: list[str], scheme: str
) -> None:
    labels = [*heads, *tail]
    if not labels:
        return
    origin = f"{scheme}://{'.'.join(labels)}"
    expected = scheme == "https" and len(labels) == 3 and labels[1:] == ["shop", "example"]
    assert OriginMatcher([WILDCARD]).matches(origin) is expected


@given(st.sampled_from(["http", "https", "HTTP"]), LABEL, st.integers(1, 65535))
def test_saving_is_idempotent(scheme: str, label: str, port: int) -> None:
    once = str(parse_allowed_origin(f"{scheme}://{label}.shop.example:{port}"))
    assert str(parse_allowed_origin(once)) == once
    assert OriginMatcher([once]).matches(once)
