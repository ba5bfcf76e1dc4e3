"""The Secrets an operator and cert-manager would make before the pods start.

- cert-manager: every ``Certificate`` of the overlay that a CA ``Issuer`` signs becomes its
  ``secretName`` Secret (``tls.crt``, ``tls.key``, ``ca.crt``) with exactly the URI and DNS
  SANs and the lifetime its spec names, signed by a CA made with services.common.pki.
- the operator: ``p13n-keys`` with random 32-byte hex keys, as deploy/base/common.yaml
  says to create it (``openssl rand -hex 32``).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.common import pki

_USAGES = {
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
}


def _duration(text: str | None, default: datetime.timedelta) -> datetime.timedelta:
    """A Go duration as cert-manager takes it (``2160h``, ``90m``, ``1h30m``)."""
    if not text:
        return default
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"duration {text!r}: use hours, minutes, seconds (2160h)")
    return datetime.timedelta(seconds=sum(float(n) * units[u] for n, u in parts))


def secret(name: str, data: Mapping[str, bytes], kind: str = "Opaque") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": kind,
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def issue(authority: pki.Authority, spec: Mapping[str, Any]) -> dict[str, bytes]:
    """One Certificate's Secret data, as cert-manager's CA issuer writes it."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        *(x509.UniformResourceIdentifier(uri) for uri in spec.get("uris") or ()),
        *(x509.DNSName(dns) for dns in spec.get("dnsNames") or ()),
        *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.get("ipAddresses") or ()),
    ]
    subject = (
        [x509.NameAttribute(NameOID.COMMON_NAME, spec["commonName"])]
        if spec.get("commonName")
        else []
    )
    usages = [
        _USAGES[u] for u in spec.get("usages") or ("server auth", "client auth") if u in _USAGES
    ]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + _duration(spec.get("duration"), pki.CERT_LIFETIME))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=not subject)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    certificate = builder.sign(authority.key, hashes.SHA256())
    return {
        "tls.crt": certificate.public_bytes(serialization.Encoding.PEM),
        "tls.key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "ca.crt": authority.certificate.public_bytes(serialization.Encoding.PEM),
    }


def cert_manager(resources: Iterable[Mapping[str, Any]], ca_dir: Path) -> list[dict[str, Any]]:
    """The TLS Secrets of every leaf Certificate (those whose issuer is a CA Issuer)."""
    resources = list(resources)
    ca_issuers = {
        r["metadata"]["name"]
        for r in resources
        if r["kind"] == "Issuer" and "ca" in r.get("spec", {})
    }
    authority = pki.Authority.create(ca_dir)
    out = []
    for certificate in resources:
        if certificate["kind"] != "Certificate":
            continue
        spec = certificate["spec"]
        if spec.get("isCA") or spec["issuerRef"]["name"] not in ca_issuers:
            continue
        out.append(secret(spec["secretName"], issue(authority, spec), "kubernetes.io/tls"))
    return out


def operator_keys() -> dict[str, Any]:
    """``kubectl create secret generic p13n-keys`` with two ``openssl rand -hex 32``."""
    return secret(
        "p13n-keys",
        {name: secrets.token_hex(32).encode() for name in ("internal-key", "secret-key")},
    )
