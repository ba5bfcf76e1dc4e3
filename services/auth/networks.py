"""Allowed IPs of private tokens: CIDR validation on save, membership per request.

Entries are IPv4 or IPv6 networks in CIDR notation; a bare address means that
one address (/32 or /128). Host bits must be zero: ``10.0.0.1/24`` is refused
with the network it probably meant, because silently widening or narrowing a
security rule is worse than asking.

IPv4-mapped IPv6 (``::ffff:a.b.c.d``) is how a dual-stack socket reports an
IPv4 client, so both the client address and any mapped entry are reduced to
plain IPv4: an IPv4 entry matches such a client, and IPv6 entries (even
``::/0``) match only genuine IPv6 clients.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final

from services.common.errors import InvalidArgument

__all__ = [
    "MAX_ALLOWED_IPS",
    "IPAddress",
    "IPNetwork",
    "ip_allowed",
    "parse_allowed_ip",
    "parse_client_ip",
    "rate_limit_key",
    "validate_allowed_ips",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_ALLOWED_IPS: Final = 100
_FIELD: Final = "allowed_ips"
_MAPPED: Final = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_allowed_ip(text: str, *, field: str = _FIELD) -> IPNetwork:
    """Validate one entry as a user typed it (surrounding whitespace ignored)."""
    entry = text.strip()
    shown = f'"{entry[:100]}"'
    if not entry:
        raise InvalidArgument("Allowed ip can't be blank", field=field, reason="ALLOWED_IP_INVALID")
    if "%" in entry:
        raise InvalidArgument(
            f"Allowed ip {shown} must not have a zone (%...): "
            "zones name a local interface and never appear on a client address",
            field=field,
            reason="ALLOWED_IP_INVALID",
        )
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise InvalidArgument(
                f"Allowed ip {shown} is not an IPv4 or IPv6 address or CIDR, "
                'e.g. "203.0.113.7", "203.0.113.0/24" or "2001:db8::/32"',
                field=field,
                reason="ALLOWED_IP_INVALID",
            ) from None
        raise InvalidArgument(
            f"Allowed ip {shown} has host bits set: use {network} for the whole network, "
            f"or {entry.partition('/')[0]} alone for one address",
            field=field,
            reason="ALLOWED_IP_INVALID",
        ) from None
    return _unmap_network(network)


def validate_allowed_ips(entries: Sequence[str]) -> list[str]:
    """Validate a token's ``allowed_ips``; return them normalised, duplicates dropped.

    An error names the entry's index in its field path (``allowed_ips[2]``).
    Bare addresses come back with their prefix length (``/32``, ``/128``).
    """
    if len(entries) > MAX_ALLOWED_IPS:
        raise InvalidArgument(
            f"Allowed ips is too long (maximum is {MAX_ALLOWED_IPS} entries); "
            "a wider CIDR such as 203.0.113.0/24 can replace many addresses",
            field=_FIELD,
            reason="ALLOWED_IPS_TOO_MANY",
            metadata={"maximum": str(MAX_ALLOWED_IPS)},
        )
    normalized = (
        str(parse_allowed_ip(entry, field=f"{_FIELD}[{index}]"))
        for index, entry in enumerate(entries)
    )
    return list(dict.fromkeys(normalized))


def parse_client_ip(text: str) -> IPAddress | None:
    """The client address as compared with allowed IPs; ``None`` if unparsable."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            # A link-local client carries its zone; the address itself is what is allowed.
            return ipaddress.IPv6Address(str(address).partition("%")[0])
    return address


def ip_allowed(client_ip: str | IPAddress, cidrs: Iterable[str | IPNetwork]) -> bool:
    """Whether ``client_ip`` lies in any of ``cidrs``.

    Pure membership: an empty list allows nobody, and an unparsable client
    address matches nothing. That a token *without* allowed IPs may be used from
    anywhere is the caller's policy, decided before calling this.
    """
    address = parse_client_ip(client_ip) if isinstance(client_ip, str) else client_ip
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a parsed address may still be mapped
    for cidr in cidrs:
        # Stored entries were validated on save; one that no longer parses is
        # corrupt storage, so it raises ValueError (a server fault), not a
        # caller-facing InvalidArgument.
        network = _unmap_network(
            ipaddress.ip_network(cidr, strict=True) if isinstance(cidr, str) else cidr
        )
        # An address of the other IP version is simply not "in" a network.
        if address in network:
            return True
    return False


def rate_limit_key(address: IPAddress) -> str:
    """The rate-limit key for a client: its IPv4 address, or its IPv6 /64.

    One IPv6 host usually controls a whole /64, so limiting single IPv6
    addresses would be bypassed by rotating through them.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _unmap_network(network: IPNetwork) -> IPNetwork:
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        # The low 32 bits of a mapped address are the IPv4 address.
        ipv4 = int(network.network_address) & 0xFFFF_FFFF
        return ipaddress.IPv4Network((ipv4, network.prefixlen - _MAPPED.prefixlen))
    return network
