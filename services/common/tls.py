"""Mutual TLS credentials for p13n's servers and channels, and the caller's name.

A server requires a client certificate issued by p13n's CA. Its credentials are dynamic:
grpc asks ``_Reloader`` for the certificate configuration at every new handshake, and it
rereads the directory only when a file there changed (a ``stat`` per file, so a handshake
pays three system calls). A certificate renewed on disk by `p13n up`, or a Kubernetes
Secret rotated by cert-manager (its mount swaps a symlink), is therefore served to the
next connection without a restart; connections already open keep the session they have.

A client presents its component's certificate and verifies the server by the server's
DNS name ``p13n-<component>`` (``pki.server_name``), set as the TLS target name, so one
certificate verifies whether the target is ``127.0.0.1:50052`` or ``p13n-profile:50052``.
A client channel's credentials are fixed when it opens (grpc has no dynamic channel
credentials): ``services.common.reloading`` reopens a service's channels with the renewed
certificate instead.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from services.common.pki import CA_FILE, CERT_FILE, KEY_FILE, TRUST_DOMAIN, server_name

log = logging.getLogger(__name__)

_FILES = (CERT_FILE, KEY_FILE, CA_FILE)
# The auth-context key grpc fills with the peer's URI SAN when it is exactly one valid
# SPIFFE ID (also under ``peer_uri`` and ``x509_subject_alternative_name``, unchecked).
SPIFFE_KEY = "peer_spiffe_id"
_PREFIX = f"spiffe://{TRUST_DOMAIN}/"


class TlsFilesMissing(Exception):
    """A component's certificate directory lacks a file; the message names it."""


def _read(directory: Path) -> tuple[bytes, bytes, bytes]:
    try:
        return tuple((directory / name).read_bytes() for name in _FILES)  # type: ignore[return-value]
    except FileNotFoundError as error:
        raise TlsFilesMissing(
            f"{error.filename} is missing: run `p13n up` once, or mount the component's "
            "Secret there (tls.crt, tls.key, ca.crt)"
        ) from None


def signature(directory: Path) -> tuple[tuple[int, int, int], ...]:
    """What changes when any of the files is replaced (Kubernetes swaps a symlink)."""
    stats = [(directory / name).stat() for name in _FILES]
    return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in stats)


def read_matching(directory: Path) -> tuple[bytes, bytes, bytes]:
    """Certificate, key and CA, once the key on disk is the certificate's (a renewal
    replaces the key first, then the certificate: in between they do not match)."""
    certificate, key, ca = _read(directory)
    public = x509.load_pem_x509_certificate(certificate).public_key()
    private = serialization.load_pem_private_key(key, None).public_key()
    form = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if public.public_bytes(*form) != private.public_bytes(*form):
        raise ValueError(f"{directory}: the key does not match the certificate (yet)")
    return certificate, key, ca


def _configuration(files: tuple[bytes, bytes, bytes]) -> grpc.ServerCertificateConfiguration:
    certificate, key, ca = files
    return grpc.ssl_server_certificate_configuration([(key, certificate)], root_certificates=ca)


class _Reloader:
    """grpc's certificate-configuration fetcher: a new configuration only after a change."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._seen = signature(directory)

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            with self._lock:
                now = signature(self._directory)
                if now == self._seen:
                    return None
                configuration = _configuration(read_matching(self._directory))
                self._seen = now
        except (OSError, TlsFilesMissing, ValueError) as error:
            # Mid-rotation (a file replaced, its partner not yet): keep serving the
            # previous certificate and look again at the next handshake.
            log.warning("certificate reload deferred: %s", error)
            return None
        log.info("serving a renewed certificate from %s", self._directory)
        return configuration


def server_credentials(directory: Path) -> grpc.ServerCredentials:
    """Credentials that require a client certificate issued by p13n's CA, reloaded on change."""
    initial = _configuration(_read(directory))
    return grpc.dynamic_ssl_server_credentials(
        initial, _Reloader(directory), require_client_authentication=True
    )


def channel_credentials(directory: Path) -> grpc.ChannelCredentials:
    """The component's certificate as a client's, trusting only p13n's CA."""
    certificate, key, ca = read_matching(directory)
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=certificate
    )


def target_options(server: str) -> tuple[tuple[str, str], ...]:
    """Channel options that verify the server as component ``server``."""
    return (("grpc.ssl_target_name_override", server_name(server)),)


def caller_name(context: grpc.aio.ServicerContext) -> str | None:
    """The calling component's name from its certificate's URI SAN, or None."""
    values = context.auth_context().get(SPIFFE_KEY) or ()
    for value in values:
        text = value.decode() if isinstance(value, bytes) else str(value)
        if text.startswith(_PREFIX):
            return text[len(_PREFIX) :]
    return None
