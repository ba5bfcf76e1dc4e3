"""Allowed origins of public services: validation on save, matching per request.

An allowed origin is either exact, ``scheme://host[:port]``, or has one leading
wildcard label, ``https://*.shop.example``, which matches exactly one more label
(``https://m.shop.example``) and nothing else: not ``https://shop.example``, not
``https://a.b.shop.example``, not another scheme or port.

A wildcard may not stand directly over a public suffix (``https://*.co.uk``,
``https://*.github.io``): anyone can register a name there, so it would let any
site in. Public suffixes are those of the Public Suffix List, ICANN and private
sections both, read from the snapshot the ``publicsuffixlist`` package ships (its
pin in pyproject.toml is bumped on purpose to take a newer list). A stored entry
that the list now names public (saved before this check, or a newer snapshot)
matches nothing, with a warning, rather than letting every site in.

Both sides are normalised the same way before comparing, so that matching is
set membership (O(1) per request):

- scheme and host are lower-cased (origins are case-insensitive, RFC 6454);
- the default port is dropped (``https://shop.example:443`` is
  ``https://shop.example``), because browsers never send it and a non-browser
  client that does means the same origin;
- IPv6 hosts take their compressed form, as browsers serialise them.

A request ``Origin`` that is not a well-formed http(s) origin -- ``null``, a
list, a path, a wildcard -- matches nothing.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from publicsuffixlist import PublicSuffixList

from services.common.errors import InvalidArgument

__all__ = [
    "MAX_ALLOWED_ORIGINS",
    "AllowedOrigin",
    "Origin",
    "OriginMatcher",
    "origin_allowed",
    "parse_allowed_origin",
    "parse_origin",
    "validate_allowed_origins",
]

MAX_ALLOWED_ORIGINS: Final = 100
_MAX_ORIGIN_LEN: Final = 300  # 253-character host, scheme, port and margin
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_FIELD: Final = "allowed_origins"
_EXAMPLE: Final = '"https://shop.example"'

_URL_RE: Final = re.compile(r"(?P<scheme>[^:/?#]*)://(?P<authority>[^/?#]*)(?P<rest>.*)", re.DOTALL)
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")
# Letters, digits, hyphen, and the underscore that browsers accept in hosts.
_LABEL_RE: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_MAX_HOST_LEN: Final = 253

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Origin:
    """A normalised web origin; ``port`` is the effective port, default filled in."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return _serialize(self.scheme, self.host, self.port)


@dataclass(frozen=True, slots=True)
class AllowedOrigin:
    """An allowed origin as saved; for a wildcard, ``host`` is the part after ``*.``."""

    scheme: str
    host: str
    port: int
    wildcard: bool

    def __str__(self) -> str:
        return _serialize(self.scheme, f"*.{self.host}" if self.wildcard else self.host, self.port)

    def matches(self, origin: Origin) -> bool:
        """Whether a parsed request origin is allowed by this entry."""
        if (origin.scheme, origin.port) != (self.scheme, self.port):
            return False
        if not self.wildcard:
            return origin.host == self.host
        return _wildcard_parent(origin) == self.host


class _Invalid(Exception):
    """Why a string is not an origin; a message for the user."""


def parse_allowed_origin(text: str, *, field: str = _FIELD) -> AllowedOrigin:
    """Validate and normalise one allowed origin as a user typed it.

    Surrounding whitespace is ignored (it comes from copy and paste). Raises
    ``InvalidArgument(..., field=field)`` saying what is wrong and what to write.
    """
    try:
        allowed = _parse(text.strip(), allow_wildcard=True)
        _refuse_public_suffix(allowed)
    except _Invalid as invalid:
        raise InvalidArgument(str(invalid), field=field, reason="ALLOWED_ORIGIN_INVALID") from None
    return allowed


def validate_allowed_origins(entries: Sequence[str]) -> list[str]:
    """Validate a service's ``allowed_origins``; return them normalised, duplicates dropped.

    An error names the entry's index in its field path (``allowed_origins[2]``).
    """
    if len(entries) > MAX_ALLOWED_ORIGINS:
        raise InvalidArgument(
            f"Allowed origins is too long (maximum is {MAX_ALLOWED_ORIGINS} entries); "
            "a wildcard such as https://*.shop.example can replace many subdomains",
            field=_FIELD,
            reason="ALLOWED_ORIGINS_TOO_MANY",
            metadata={"maximum": str(MAX_ALLOWED_ORIGINS)},
        )
    normalized = (
        str(parse_allowed_origin(entry, field=f"{_FIELD}[{index}]"))
        for index, entry in enumerate(entries)
    )
    return list(dict.fromkeys(normalized))


def parse_origin(text: str) -> Origin | None:
    """Parse a request's ``Origin`` header; ``None`` if it can match nothing."""
    try:
        parsed = _parse(text, allow_wildcard=False)
    except _Invalid:
        return None
    return Origin(parsed.scheme, parsed.host, parsed.port)


class OriginMatcher:
    """The allowed origins of one service, compiled for O(1) matching.

    Built from stored entries, which were validated on save: one that no longer
    parses is corrupt storage and raises ``ValueError`` (a server fault) rather
    than a caller-facing error or a silent non-match.
    """

    __slots__ = ("_exact", "_wildcard")

    def __init__(self, allowed: Iterable[str | AllowedOrigin]) -> None:
        self._exact: set[tuple[str, str, int]] = set()
        self._wildcard: set[tuple[str, str, int]] = set()
        for entry in allowed:
            origin = _parse_stored(entry) if isinstance(entry, str) else entry
            if _over_public_suffix(origin):
                log.warning(
                    "allowed origin %s is a wildcard over a public suffix and matches "
                    "nothing; replace it with the site's own domain",
                    origin,
                )
                continue
            key = (origin.scheme, origin.host, origin.port)
            (self._wildcard if origin.wildcard else self._exact).add(key)

    def matches(self, origin: str | Origin) -> bool:
        """Whether a request ``Origin`` (raw header or parsed) is allowed."""
        parsed = parse_origin(origin) if isinstance(origin, str) else origin
        if parsed is None:
            return False
        if (parsed.scheme, parsed.host, parsed.port) in self._exact:
            return True
        return (parsed.scheme, _wildcard_parent(parsed), parsed.port) in self._wildcard


def origin_allowed(origin: str, allowed: Iterable[str | AllowedOrigin]) -> bool:
    """One-off form of ``OriginMatcher(allowed).matches(origin)``."""
    return OriginMatcher(allowed).matches(origin)


def _parse_stored(text: str) -> AllowedOrigin:
    try:
        return _parse(text, allow_wildcard=True)
    except _Invalid as invalid:
        raise ValueError(f"stored allowed origin is invalid: {invalid}") from None


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    # The package's own snapshot, parsed once (~70 ms) on first use, never fetched.
    return PublicSuffixList()


def _over_public_suffix(origin: AllowedOrigin) -> bool:
    return origin.wildcard and _public_suffixes().is_public(origin.host)


def _refuse_public_suffix(origin: AllowedOrigin) -> None:
    if _over_public_suffix(origin):
        raise _Invalid(
            f'Allowed origin "{origin}" cannot have a wildcard over {origin.host}: it is a '
            "public suffix, under which anyone can register a site; put the wildcard over "
            f'your own domain, e.g. "https://*.yourshop.{origin.host}"'
        )


def _wildcard_parent(origin: Origin) -> str:
    # What "*." would have to stand before: the host minus its first label. For
    # an IP address this is empty or ends in a number, which no saved wildcard
    # can equal (saving refuses both), so IPs need no special case.
    return origin.host.partition(".")[2]


def _parse(text: str, *, allow_wildcard: bool) -> AllowedOrigin:
    shown = _show(text)
    _refuse_unusable(text)
    match = _URL_RE.fullmatch(text)
    if match is None:
        raise _Invalid(
            f"Allowed origin {shown} must start with https:// or http://, e.g. {_EXAMPLE}"
        )
    scheme, authority, rest = match["scheme"].lower(), match["authority"], match["rest"]
    if scheme not in _DEFAULT_PORTS:
        raise _Invalid(f"Allowed origin {shown} must use https or http, e.g. {_EXAMPLE}")
    suggestion = f'"{scheme}://{authority.lower()}"'
    if rest == "/":
        raise _Invalid(f"Allowed origin {shown} must not end with a slash: use {suggestion}")
    if rest:
        raise _Invalid(
            f"Allowed origin {shown} must not have a path, query or fragment: use {suggestion}"
        )
    if "@" in authority:
        raise _Invalid(f"Allowed origin {shown} must not contain a user name or password")
    host_text, port = _split_port(authority, scheme, shown)
    wildcard = host_text.startswith("*.")
    if "*" in (host_text[2:] if wildcard else host_text):
        raise _Invalid(
            f"Allowed origin {shown} may have only one wildcard, as its whole first label, "
            'e.g. "https://*.shop.example"'
        )
    if wildcard:
        if not allow_wildcard:
            raise _Invalid("a request origin cannot be a wildcard")
        return AllowedOrigin(scheme, _wildcard_host(host_text[2:], scheme, shown), port, True)
    return AllowedOrigin(scheme, _host(host_text, shown), port, False)


def _refuse_unusable(text: str) -> None:
    # Refusals before the text is read as a URL: nothing there, too much, or "null".
    if not text:
        raise _Invalid("Allowed origin can't be blank")
    if len(text) > _MAX_ORIGIN_LEN:
        raise _Invalid(
            f"Allowed origin {_show(text)} is too long (maximum is {_MAX_ORIGIN_LEN} characters)"
        )
    if text.lower() == "null":
        raise _Invalid(
            'Allowed origin "null" is not allowed: sandboxed frames and local files send it, '
            "so it would let any such page in"
        )


def _split_port(authority: str, scheme: str, shown: str) -> tuple[str, int]:
    if "[" in authority:
        end = authority.find("]")
        host, after = authority[: end + 1], authority[end + 1 :]
        if end < 0 or (after and not after.startswith(":")):
            raise _bad_host(shown)
        has_port, port_text = bool(after), after[1:]
    elif authority.count(":") > 1:
        raise _Invalid(
            f'Allowed origin {shown} must put an IPv6 address in brackets, e.g. "http://[::1]:8080"'
        )
    else:
        host, colon, port_text = authority.partition(":")
        has_port = bool(colon)
    if not has_port:
        return host, _DEFAULT_PORTS[scheme]
    if not _PORT_RE.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise _Invalid(f"Allowed origin {shown} has an invalid port: use a number from 1 to 65535")
    return host, int(port_text)


def _wildcard_host(parent: str, scheme: str, shown: str) -> str:
    if scheme != "https":
        # A wildcard widens who may call; plain http is for local development,
        # where one exact origin is enough.
        raise _Invalid(f"Allowed origin {shown} must use https to have a wildcard")
    host = _host(parent, shown)
    if host.startswith("[") or _is_ipv4_like(host):
        raise _Invalid(f"Allowed origin {shown} cannot combine a wildcard with an IP address")
    if "." not in host:
        raise _Invalid(
            f"Allowed origin {shown} must have at least two labels after the wildcard, "
            'e.g. "https://*.shop.example", so that it cannot cover a whole top-level domain'
        )
    return host


def _host(text: str, shown: str) -> str:
    invalid = _bad_host(shown)
    if text.startswith("[") and text.endswith("]"):
        try:
            address = ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise invalid from None
        if address.scope_id is not None:
            raise invalid
        return f"[{address.compressed}]"
    if not text.isascii():
        raise _Invalid(
            f"Allowed origin {shown} must be written in ASCII: browsers send the punycode "
            f"form of the host ({_punycode_hint(text)})"
        )
    host = text.lower()
    if _is_ipv4_like(host):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise invalid from None
    labels = host.split(".")
    if len(host) > _MAX_HOST_LEN or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise invalid
    return host


def _bad_host(shown: str) -> _Invalid:
    return _Invalid(
        f"Allowed origin {shown} has an invalid host: use a domain name such as shop.example, "
        "an IPv4 address or a bracketed IPv6 address"
    )


def _is_ipv4_like(host: str) -> bool:
    # As in the URL standard: a host whose last label is numeric is an IPv4
    # address or nothing, never a domain name.
    return host.rpartition(".")[2].isdecimal()


def _punycode_hint(host: str) -> str:
    try:
        return f"e.g. {host.encode('idna').decode('ascii')}"
    except UnicodeError:
        return "starting with xn--"


def _serialize(scheme: str, host: str, port: int) -> str:
    if port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _show(text: str) -> str:
    # Quote the user's entry so a trailing space or slash stays visible;
    # bound it so a pasted paragraph does not become the message.
    return f'"{text[:100]}…"' if len(text) > 100 else f'"{text}"'
