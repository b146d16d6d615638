"""TLS material of the local server: a private CA and a host certificate it signs.

Oracle's clients are strict about the server certificate (protocol §10.1, §10.2): the JS client
compares the host with the subject CN only, Java and Python's ``ssl`` match the subjectAltName
(``IP:`` for an address, ``DNS:`` for a name).  The host certificate therefore names every host in
both places.  The CA certificate is what provisioned stores carry as their trust anchor, so it is
generated once per data directory and reused on every restart; the host certificate is reissued
(by the same CA) only when it does not cover the hosts asked for or is about to expire.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from iotcs_hw.errors import ConfigError

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
HOST_CERT = "server.pem"
HOST_KEY = "server.key"
#: The hosts every host certificate names, so loopback clients may use either form.
DEFAULT_HOSTS = ("localhost", "127.0.0.1")
_CA_DAYS = 3650
_HOST_DAYS = 825
_RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files in a data directory."""

    ca_cert: Path
    ca_key: Path
    host_cert: Path
    host_key: Path

    def server_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` serving the host certificate (TLS 1.2 or newer)."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.host_cert, self.host_key)
        return ctx

    def ca_der(self) -> bytes:
        """The CA certificate in DER, the form a unified store holds (tag 5)."""
        cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        return cert.public_bytes(serialization.Encoding.DER)


def ensure_tls(data_dir: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> TlsFiles:
    """Create (or reuse) the CA and a host certificate covering ``hosts`` in ``data_dir``.

    The first host is the subject CN; all of them are subjectAltNames.  Private keys are
    written 0600.  Raises :class:`ConfigError` naming the file when existing material is
    unreadable (it is never overwritten silently: a new CA would orphan every provisioned store).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        data_dir / CA_CERT, data_dir / CA_KEY, data_dir / HOST_CERT, data_dir / HOST_KEY
    )
    all_hosts = tuple(dict.fromkeys((*hosts, *DEFAULT_HOSTS)))
    if files.ca_cert.exists() and files.ca_key.exists():
        ca_cert = _load_cert(files.ca_cert)
        ca_key = None  # loaded only to issue a host certificate (RSA key loading is slow)
    else:
        ca_cert, ca_key = _new_ca()
        _write_key(files.ca_key, ca_key)
        _write_cert(files.ca_cert, ca_cert)
    if not _host_cert_ok(files, ca_cert, all_hosts):
        if ca_key is None:
            ca_cert, ca_key = _load_pair(files.ca_cert, files.ca_key)
        cert, key = _new_host_cert(ca_cert, ca_key, all_hosts)
        _write_key(files.host_key, key)
        _write_cert(files.host_cert, cert)
    return files


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _new_ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iotcs-hw local cloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, "iotcs-hw local CA"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _san_entries(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _new_host_cert(
    ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey, hosts: tuple[str, ...]
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    now = _now()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_HOST_DAYS))
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _host_cert_ok(files: TlsFiles, ca_cert: x509.Certificate, hosts: tuple[str, ...]) -> bool:
    if not (files.host_cert.exists() and files.host_key.exists()):
        return False
    try:
        cert = _load_cert(files.host_cert)
    except ConfigError:
        return False
    if cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return False
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cn or cn[0].value != hosts[0]:
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = set(san.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }
    return all(str(_normal_host(h)) in have for h in hosts)


def _normal_host(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _load_cert(cert_path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{cert_path}: not a readable PEM certificate ({exc})") from exc


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    cert = _load_cert(cert_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{key_path}: not a readable PEM private key ({exc})") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{key_path}: expected an RSA private key")
    return cert, key


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _atomic_write(path, pem, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _atomic_write(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
