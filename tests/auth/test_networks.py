from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auth.networks import (
    MAX_ALLOWED_IPS,
    ip_allowed,
    parse_allowed_ip,
    parse_client_ip,
    rate_limit_key,
    validate_allowed_ips,
)
from services.common.errors import InvalidArgument

# --- validation on save -------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "saved"),
    [
        pytest.param("10.0.0.0/8", "10.0.0.0/8", id="ipv4-cidr"),
        pytest.param("203.0.113.7", "203.0.113.7/32", id="ipv4-bare"),
        pytest.param("203.0.113.7/32", "203.0.113.7/32", id="ipv4-host"),
        pytest.param("0.0.0.0/0", "0.0.0.0/0", id="ipv4-all"),
        pytest.param("2001:db8::/32", "2001:db8::/32", id="ipv6-cidr"),
        pytest.param("2001:DB8:0:0::1", "2001:db8::1/128", id="ipv6-bare-normalised"),
        pytest.param("::/0", "::/0", id="ipv6-all"),
        pytest.param("10.0.0.0/255.0.0.0", "10.0.0.0/8", id="netmask"),
        pytest.param("::ffff:10.0.0.0/104", "10.0.0.0/8", id="mapped-cidr"),
        pytest.param("::ffff:1.2.3.4", "1.2.3.4/32", id="mapped-bare"),
        pytest.param("  10.0.0.0/8\t", "10.0.0.0/8", id="pasted-blanks"),
    ],
)
def test_valid_entries_are_saved_normalised(entry: str, saved: str) -> None:
    assert str(parse_allowed_ip(entry)) == saved


NOT_AN_IP = (
    'is not an IPv4 or IPv6 address or CIDR, e.g. "203.0.113.7", "203.0.113.0/24" '
    'or "2001:db8::/32"'
)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param("", "Allowed ip can't be blank", id="blank"),
        pytest.param(" ", "Allowed ip can't be blank", id="spaces"),
        pytest.param(
            "10.0.0.1/24",
            'Allowed ip "10.0.0.1/24" has host bits set: use 10.0.0.0/24 for the whole '
            "network, or 10.0.0.1 alone for one address",
            id="host-bits-v4",
        ),
        pytest.param(
            "2001:db8::1/32",
            'Allowed ip "2001:db8::1/32" has host bits set: use 2001:db8::/32 for the whole '
            "network, or 2001:db8::1 alone for one address",
            id="host-bits-v6",
        ),
        pytest.param(
            "fe80::1%eth0",
            'Allowed ip "fe80::1%eth0" must not have a zone (%...): zones name a local '
            "interface and never appear on a client address",
            id="zone",
        ),
        pytest.param("10.0.0.0/33", f'Allowed ip "10.0.0.0/33" {NOT_AN_IP}', id="prefix-too-long"),
        pytest.param("10.0.0.0/-1", f'Allowed ip "10.0.0.0/-1" {NOT_AN_IP}', id="prefix-negative"),
        pytest.param("300.1.1.1", f'Allowed ip "300.1.1.1" {NOT_AN_IP}', id="octet-range"),
        pytest.param("010.0.0.1", f'Allowed ip "010.0.0.1" {NOT_AN_IP}', id="leading-zero"),
        pytest.param("10.0.0", f'Allowed ip "10.0.0" {NOT_AN_IP}', id="three-octets"),
        pytest.param("shop.example", f'Allowed ip "shop.example" {NOT_AN_IP}', id="hostname"),
        pytest.param(
            "10.0.0.0-10.0.0.9", f'Allowed ip "10.0.0.0-10.0.0.9" {NOT_AN_IP}', id="range"
        ),
        pytest.param("*", f'Allowed ip "*" {NOT_AN_IP}', id="star"),
    ],
)
def test_invalid_entries_are_refused_with_actionable_messages(entry: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_allowed_ip(entry)
    assert caught.value.field == "allowed_ips"
    assert caught.value.reason == "ALLOWED_IP_INVALID"
    assert caught.value.message == message


def test_list_errors_name_the_entry_index() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_allowed_ips(["10.0.0.0/8", "2001:db8::/32", "nope"])
    assert caught.value.field == "allowed_ips[2]"


def test_list_is_normalised_and_deduplicated_in_order() -> None:
    entries = ["2001:db8::1", "10.0.0.0/8", "2001:DB8::1/128", "::ffff:10.0.0.0/104"]
    assert validate_allowed_ips(entries) == ["2001:db8::1/128", "10.0.0.0/8"]


def test_list_size_limit() -> None:
    entries = [f"10.0.{i // 256}.{i % 256}" for i in range(MAX_ALLOWED_IPS)]
    assert len(validate_allowed_ips(entries)) == MAX_ALLOWED_IPS
    with pytest.raises(InvalidArgument) as caught:
        validate_allowed_ips([*entries, "192.0.2.1"])
    assert caught.value.field == "allowed_ips"
    assert caught.value.message.startswith("Allowed ips is too long (maximum is 100 entries)")


# --- membership -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "cidrs", "expected"),
    [
        pytest.param("10.1.2.3", ["10.0.0.0/8"], True, id="v4-inside"),
        pytest.param("11.0.0.1", ["10.0.0.0/8"], False, id="v4-outside"),
        pytest.param("10.255.255.255", ["10.0.0.0/8"], True, id="v4-last"),
        pytest.param("203.0.113.7", ["203.0.113.7/32"], True, id="v4-host"),
        pytest.param("203.0.113.8", ["203.0.113.7/32"], False, id="v4-neighbour"),
        pytest.param("192.0.2.1", ["10.0.0.0/8", "192.0.2.0/24"], True, id="second-entry"),
        pytest.param("2001:db8::5", ["2001:db8::/32"], True, id="v6-inside"),
        pytest.param("2001:db9::5", ["2001:db8::/32"], False, id="v6-outside"),
        pytest.param("::ffff:10.1.2.3", ["10.0.0.0/8"], True, id="mapped-client-v4-entry"),
        pytest.param("::ffff:11.1.2.3", ["10.0.0.0/8"], False, id="mapped-client-outside"),
        pytest.param("10.1.2.3", ["::ffff:10.0.0.0/104"], True, id="mapped-entry"),
        pytest.param("::ffff:10.1.2.3", ["::/0"], False, id="mapped-client-not-in-v6-all"),
        pytest.param("10.1.2.3", ["::/0"], False, id="v4-client-not-in-v6-all"),
        pytest.param("2001:db8::1", ["0.0.0.0/0"], False, id="v6-client-not-in-v4-all"),
        pytest.param("fe80::1%eth0", ["fe80::/64"], True, id="zoned-client"),
        pytest.param("10.1.2.3", [], False, id="empty-list-allows-nobody"),
        pytest.param("not-an-ip", ["0.0.0.0/0"], False, id="garbage-client"),
        pytest.param("", ["0.0.0.0/0"], False, id="empty-client"),
        pytest.param("10.1.2.3:5555", ["10.0.0.0/8"], False, id="client-with-port"),
    ],
)
def test_ip_allowed(client: str, cidrs: list[str], expected: bool) -> None:
    assert ip_allowed(client, cidrs) is expected


def test_ip_allowed_takes_parsed_values() -> None:
    mapped_entry = ipaddress.IPv6Network("::ffff:10.0.0.0/104")
    assert ip_allowed(ipaddress.IPv4Address("10.9.9.9"), [mapped_entry])
    assert ip_allowed(
        ipaddress.IPv6Address("::ffff:10.9.9.9"), [ipaddress.ip_network("10.0.0.0/8")]
    )


def test_a_corrupt_stored_entry_is_a_server_fault() -> None:
    with pytest.raises(ValueError, match="has host bits set"):
        ip_allowed("10.0.0.1", ["10.0.0.1/8"])
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        ip_allowed("10.0.0.1", ["garbage"])


@given(st.ip_addresses(v=4), st.integers(0, 32))
def test_an_ipv4_client_is_allowed_by_its_own_network_however_written(
    address: ipaddress.IPv4Address, prefix: int
) -> None:
    network = ipaddress.IPv4Network((address, prefix), strict=False)
    as_mapped = f"::ffff:{network.network_address}/{prefix + 96}"
    assert validate_allowed_ips([as_mapped]) == [str(network)]
    for client in (str(address), f"::ffff:{address}"):
        assert ip_allowed(client, [str(network)])
        assert ip_allowed(client, [as_mapped])


def test_parse_client_ip() -> None:
    assert parse_client_ip("::ffff:1.2.3.4") == ipaddress.IPv4Address("1.2.3.4")
    assert parse_client_ip("fe80::1%eth0") == ipaddress.IPv6Address("fe80::1")
    assert parse_client_ip("1.2.3") is None


# --- rate-limit keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        pytest.param("203.0.113.7", "203.0.113.7", id="ipv4-itself"),
        pytest.param("::ffff:203.0.113.7", "203.0.113.7", id="mapped-as-ipv4"),
        pytest.param("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", id="ipv6-its-64"),
        pytest.param("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64", id="same-64-same-key"),
    ],
)
def test_rate_limit_key(address: str, key: str) -> None:
    assert rate_limit_key(ipaddress.ip_address(address)) == key
