"""Certificate bundles: SHA-1 fingerprints, PEM concatenations and the PKCS#7 of ``/.well-known/est/cacerts``."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from ziti_aio.common.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_BUNDLE_BYTES = 1024 * 1024
BASE64_LINE_CHARS = 64
_DER_SEQUENCE = 0x30
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def _parsed(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    """``certs`` after parsing the lazily decoded parts, so that later use cannot fail."""
    for cert in certs:
        _ = cert.subject, cert.issuer, cert.extensions, cert.public_key(), cert.signature_hash_algorithm
    return certs


def fingerprint_sha1(cert: x509.Certificate) -> str:
    """Lower-case hex SHA-1 of the certificate's DER, no colons (authenticator fingerprints, JWT ``kid``)."""
    return cert.fingerprint(hashes.SHA1()).hex()


def pkcs7_certs_der(certs: Iterable[x509.Certificate]) -> bytes:
    """A degenerate, certs-only PKCS#7 SignedData in DER, the layout libziti 0.29.3's parser expects.

    ``certificates`` is a DER ``SET OF``: readers get the certificates back sorted, not in the order given.
    """
    certs = list(certs)
    if not certs:
        raise ValidationError("a certificate bundle needs at least one certificate")
    return pkcs7.serialize_certificates(certs, Encoding.DER)


def cacerts_body(certs: Iterable[x509.Certificate]) -> bytes:
    """The ``/.well-known/est/cacerts`` body: base64 of :func:`pkcs7_certs_der` in 64-character lines."""
    text = base64.b64encode(pkcs7_certs_der(certs))
    return b"\n".join(text[i : i + BASE64_LINE_CHARS] for i in range(0, len(text), BASE64_LINE_CHARS))


def parse_pkcs7_certs(data: bytes | str) -> list[x509.Certificate]:
    """The certificates in a certs-only PKCS#7 given as base64 (line breaks allowed), DER or PEM.

    Error handling: malformed input, input over 1 MiB, or a bundle without certificates raises
    :class:`ValidationError`.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValidationError(f"certificate bundle larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            certs = pkcs7.load_pem_pkcs7_certificates(data)
        elif data[:1] == bytes([_DER_SEQUENCE]):
            certs = pkcs7.load_der_pkcs7_certificates(data)
        else:
            certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(b"".join(data.split()), validate=True))
        if not certs:
            raise ValidationError("the PKCS#7 bundle holds no certificates")
        return _parsed(certs)
    except _PARSE_ERRORS as exc:
        raise ValidationError(f"not a PKCS#7 certificate bundle: {exc}") from exc


def certs_to_pem(certs: Iterable[x509.Certificate]) -> bytes:
    """Concatenated PEM of ``certs``, in order."""
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def load_certs_pem(data: bytes | str) -> list[x509.Certificate]:
    """Every certificate in concatenated PEM; :class:`ValidationError` when there is none or one is malformed."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValidationError(f"certificate PEM larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        return _parsed(x509.load_pem_x509_certificates(data))
    except _PARSE_ERRORS as exc:
        raise ValidationError(f"not PEM certificates: {exc}") from exc
