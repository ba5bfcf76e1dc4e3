"""p13n's CA: made once, one certificate per component naming it, renewed near expiry."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

from cryptography import x509

from services.common import pki

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_ca_and_every_certificate_are_made_once(tmp_path: Path) -> None:
    assert pki.ensure(tmp_path, now=NOW) == list(pki.COMPONENTS)
    listed = pki.describe(tmp_path)
    assert pki.ensure(tmp_path, now=NOW + datetime.timedelta(days=1)) == []
    assert pki.describe(tmp_path) == listed
    keys = [tmp_path / "ca" / "ca.key", *(tmp_path / c / pki.KEY_FILE for c in pki.COMPONENTS)]
    assert {key.stat().st_mode & 0o777 for key in keys} == {0o600}


def test_a_certificate_names_its_component_and_verifies_as_its_service(tmp_path: Path) -> None:
    pki.ensure(tmp_path, ["profile"], now=NOW)
    certificate = _certificate(tmp_path / "profile" / pki.CERT_FILE)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://p13n/profile"]
    assert names.get_values_for_type(x509.DNSName) == ["p13n-profile", "localhost"]
    assert certificate.not_valid_after_utc - NOW > pki.CERT_LIFETIME - datetime.timedelta(hours=1)
    ca = _certificate(tmp_path / "profile" / pki.CA_FILE)
    certificate.verify_directly_issued_by(ca)


def test_a_certificate_close_to_expiry_is_renewed_and_the_ca_kept(tmp_path: Path) -> None:
    pki.ensure(tmp_path, now=NOW)
    ca = (tmp_path / "ca" / pki.CA_FILE).read_bytes()
    first = _certificate(tmp_path / "offers" / pki.CERT_FILE)
    almost = NOW + pki.CERT_LIFETIME - pki.RENEW_BEFORE - datetime.timedelta(days=1)
    assert pki.ensure(tmp_path, now=almost) == []
    late = NOW + pki.CERT_LIFETIME - pki.RENEW_BEFORE + datetime.timedelta(days=1)
    assert pki.ensure(tmp_path, now=late) == list(pki.COMPONENTS)
    renewed = _certificate(tmp_path / "offers" / pki.CERT_FILE)
    assert renewed.serial_number != first.serial_number
    assert renewed.not_valid_after_utc > first.not_valid_after_utc
    assert (tmp_path / "ca" / pki.CA_FILE).read_bytes() == ca


def test_new_certificate_directories_are_the_owners_alone(tmp_path: Path) -> None:
    # 0700: the keys are 0600 already; the directories keep other users from listing them.
    pki_dir = tmp_path / "data" / "pki"
    pki.ensure(pki_dir, ["gateway"])
    assert stat.S_IMODE((pki_dir / "ca").stat().st_mode) == 0o700
    assert stat.S_IMODE((pki_dir / "gateway").stat().st_mode) == 0o700
