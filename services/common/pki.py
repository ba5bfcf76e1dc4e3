"""p13n's own certificate authority: one certificate per component, for mutual TLS.

Every internal hop (gateway to a service, a service to another) is mutual TLS, and each
side names itself by the URI SAN ``spiffe://p13n/<component>`` of its certificate: a
service authorizes each method by that name (``services.common.callers``). Each component
has one directory in the layout cert-manager gives a Kubernetes Secret (``tls.crt``,
``tls.key``, ``ca.crt``), so the same code reads a Secret's mount and ``p13n up``'s files.

On one machine ``ensure`` makes the CA on first start (``<pki>/ca/{ca.crt,ca.key}``) and
one certificate per component, and renews a certificate when less than ``RENEW_BEFORE`` of
its life is left; the services pick a renewed file up without a restart
(``services.common.tls``). The lifetimes are cert-manager's defaults: 90 days, renewed
with 30 days left, so a suite restarted at least monthly never serves an expired
certificate. The CA lives ten years; renewing it is a re-issue of everything (delete
``pki/``), done by hand.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The components that hold a certificate; ``cli`` is `p13n up`'s own (its health checks).
COMPONENTS = ("gateway", "auth", "profile", "offers", "cli")
TRUST_DOMAIN = "p13n"
CERT_LIFETIME = datetime.timedelta(days=90)
RENEW_BEFORE = datetime.timedelta(days=30)
CA_LIFETIME = datetime.timedelta(days=3650)

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
CA_FILE = "ca.crt"


def spiffe_id(component: str) -> str:
    """The URI SAN that names ``component``."""
    return f"spiffe://{TRUST_DOMAIN}/{component}"


def server_name(component: str) -> str:
    """The DNS name a client verifies a server by: its Kubernetes Service name.

    Clients set it as the TLS target name (``grpc.ssl_target_name_override``, Envoy's SNI),
    so the same certificate verifies at ``127.0.0.1:50052`` and at ``p13n-profile:50052``.
    """
    return f"p13n-{component}"


@dataclass(frozen=True)
class Issued:
    """One component's certificate as ``p13n certs`` lists it."""

    component: str
    san: str
    not_after: datetime.datetime
    fingerprint: str
    path: Path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Writes a key readable by its owner only, replacing the file at once."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    temporary.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Authority:
    """The CA's certificate and key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, directory: Path, now: datetime.datetime | None = None) -> Authority:
        now = now or _now()
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p13n internal CA")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(directory / "ca.key", _key_pem(key))
        _write_public(directory / CA_FILE, certificate.public_bytes(serialization.Encoding.PEM))
        return cls(certificate, key)

    @classmethod
    def load(cls, directory: Path) -> Authority:
        certificate = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{directory / 'ca.key'} is not an EC private key")
        return cls(certificate, key)

    def issue(
        self,
        component: str,
        directory: Path,
        now: datetime.datetime | None = None,
        lifetime: datetime.timedelta = CERT_LIFETIME,
    ) -> None:
        """Writes ``component``'s key, certificate and the CA certificate into ``directory``.

        Client and server at once: every component both serves and calls (the gateway and
        the CLI only call, and the extra usage costs nothing).
        """
        now = now or _now()
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(spiffe_id(component)),
            x509.DNSName(server_name(component)),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, component)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The key first: a reader that sees the new certificate finds its key beside it.
        _write_private(directory / KEY_FILE, _key_pem(key))
        _write_public(directory / CERT_FILE, certificate.public_bytes(serialization.Encoding.PEM))
        _write_public(
            directory / CA_FILE, self.certificate.public_bytes(serialization.Encoding.PEM)
        )


def _needs_certificate(directory: Path, now: datetime.datetime) -> bool:
    path = directory / CERT_FILE
    if not path.exists() or not (directory / KEY_FILE).exists():
        return True
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    return certificate.not_valid_after_utc - now < RENEW_BEFORE


def ensure(
    pki_dir: Path,
    components: Iterable[str] = COMPONENTS,
    now: datetime.datetime | None = None,
) -> list[str]:
    """Creates the CA once and each missing or nearly expired certificate; returns the
    components whose certificate was (re)issued."""
    now = now or _now()
    ca_dir = pki_dir / "ca"
    exists = (ca_dir / CA_FILE).exists()
    authority = Authority.load(ca_dir) if exists else Authority.create(ca_dir, now)
    issued = []
    for component in components:
        directory = pki_dir / component
        if _needs_certificate(directory, now):
            authority.issue(component, directory, now)
            issued.append(component)
    return issued


def describe(pki_dir: Path, components: Iterable[str] = COMPONENTS) -> list[Issued]:
    """The certificates present under ``pki_dir``."""
    found = []
    for component in components:
        path = pki_dir / component / CERT_FILE
        if not path.exists():
            continue
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        uris = sans.value.get_values_for_type(x509.UniformResourceIdentifier)
        found.append(
            Issued(
                component=component,
                san=", ".join(uris),
                not_after=certificate.not_valid_after_utc,
                fingerprint=certificate.fingerprint(hashes.SHA256()).hex(":"),
                path=path,
            )
        )
    return found
