"""Certificate signing requests: load untrusted ones (including libziti 0.29.3's quirky DER) and create our own."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from ziti_aio.common.errors import ValidationError
from ziti_aio.pki.keys import PrivateKey, check_key_type, signature_hash
from ziti_aio.pki.names import san_entries, subject

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_CSR_BYTES = 64 * 1024
MAX_DER_LENGTH_OCTETS = 4
_PEM_BEGIN = b"-----BEGIN "
_PEM_DASHES = b"-----"
_PEM_LABELS = (b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST")
_SEQUENCE, _BIT_STRING, _OID = 0x30, 0x03, 0x06
_DER_NULL = b"\x05\x00"
# DER-encoded OIDs ecdsa-with-SHA1 (1.2.840.10045.4.1) and ecdsa-with-SHA224/256/384/512 (1.2.840.10045.4.3.1-4)
_ECDSA_SIG_OIDS = frozenset(
    [bytes.fromhex("06072a8648ce3d0401")] + [bytes.fromhex(f"06082a8648ce3d04030{i}") for i in range(1, 5)]
)
_LOAD_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def _bad(reason: str) -> ValidationError:
    return ValidationError(f"invalid CSR: {reason}", field="csr")


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER element at ``pos``; single-byte tags, definite lengths only."""
    if pos + 2 > len(data) or data[pos] & 0x1F == 0x1F:
        raise _bad("truncated or unsupported DER")
    first = data[pos + 1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if not 0 < count <= MAX_DER_LENGTH_OCTETS or pos + 2 + count > len(data):
            raise _bad("unsupported DER length")
        header, length = 2 + count, int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
    end = pos + header + length
    if end > len(data):
        raise _bad("DER element runs past the end")
    return data[pos], pos + header, end


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def normalise_der(der: bytes) -> bytes:
    """Drop the NULL parameter libziti 0.29.3 puts in an ECDSA signatureAlgorithm, re-encoding the outer SEQUENCE.

    The signature covers only the CertificationRequestInfo, so this leaves it valid. Other CSRs pass unchanged.
    """
    tag, pos, end = _tlv(der, 0)
    if tag != _SEQUENCE or end != len(der):
        raise _bad("not a single DER SEQUENCE")
    elements: list[tuple[int, int, int, int]] = []  # (tag, element start, content start, element end)
    while pos < end and len(elements) < 3:
        tag, content, next_pos = _tlv(der, pos)
        elements.append((tag, pos, content, next_pos))
        pos = next_pos
    if pos != end or [e[0] for e in elements] != [_SEQUENCE, _SEQUENCE, _BIT_STRING]:
        raise _bad("expected SEQUENCE { info, algorithm, signature }")
    info, alg, sig = elements
    alg_content = der[alg[2] : alg[3]]
    oid_tag, _, oid_end = _tlv(alg_content, 0)
    oid, parameters = alg_content[:oid_end], alg_content[oid_end:]
    if oid_tag != _OID or oid not in _ECDSA_SIG_OIDS or parameters != _DER_NULL:
        return der
    algorithm = bytes([_SEQUENCE]) + _der_length(len(oid)) + oid
    body = der[info[1] : info[3]] + algorithm + der[sig[1] : sig[3]]
    return bytes([_SEQUENCE]) + _der_length(len(body)) + body


def _pem_to_der(data: bytes) -> bytes:
    if data.count(_PEM_BEGIN) != 1:
        raise _bad("expected exactly one PEM block")
    label_start = data.index(_PEM_BEGIN) + len(_PEM_BEGIN)
    label_end = data.find(_PEM_DASHES, label_start)
    label = data[label_start:label_end] if label_end >= 0 else b""
    if label not in _PEM_LABELS:
        raise _bad("the PEM block is not a CERTIFICATE REQUEST")
    body_start = label_end + len(_PEM_DASHES)
    body_end = data.find(b"-----END " + label + _PEM_DASHES, body_start)
    if body_end < 0:
        raise _bad("the PEM block has no END line")
    try:
        return base64.b64decode(b"".join(data[body_start:body_end].split()), validate=True)
    except binascii.Error as exc:
        raise _bad("the PEM body is not base64") from exc


def load_csr(data: bytes | str) -> x509.CertificateSigningRequest:
    """Load a CSR from PEM (exactly one CSR block) or DER, accepting libziti 0.29.3's NULL-parameter ECDSA quirk.

    The subject, extensions and public key (RSA >= 2048 bit or NIST EC) are checked here, so later use
    does not fail. The signature is not: :meth:`CertAuthority.sign_csr` verifies it.
    Error handling: any malformed input, or more than 64 KiB of it, raises :class:`ValidationError`.
    """
    if len(data) > MAX_CSR_BYTES:
        raise _bad(f"larger than {MAX_CSR_BYTES} bytes")
    if isinstance(data, str):
        if not data.isascii():
            raise _bad("non-ASCII text")
        data = data.encode("ascii")
    der = _pem_to_der(data) if _PEM_BEGIN in data else data
    try:
        csr = x509.load_der_x509_csr(normalise_der(der))
        _ = csr.subject, csr.extensions, csr.signature_hash_algorithm
        check_key_type(csr.public_key())
    except _LOAD_ERRORS as exc:
        raise _bad(str(exc)) from exc
    return csr


def requested_sans(csr: x509.CertificateSigningRequest) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses (as strings) a CSR asks for, e.g. a router's server CSR."""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return san.get_values_for_type(x509.DNSName), [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def create_csr(key: PrivateKey, common_name: str, *, dns: Iterable[str] = ()) -> x509.CertificateSigningRequest:
    """A CSR for ``CN=common_name`` signed by ``key``; ``dns`` names (and IP literals among them) become SANs."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject(common_name))
    sans = san_entries(dns)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, signature_hash(key))
