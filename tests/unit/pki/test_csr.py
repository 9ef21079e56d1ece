"""CSRs: loading untrusted input (libziti 0.29.3's NULL-parameter quirk included) and creating our own."""

import base64
import contextlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from ziti_aio.common.errors import ValidationError
from ziti_aio.pki.csr import MAX_CSR_BYTES, create_csr, load_csr, normalise_der, requested_sans
from ziti_aio.pki.keys import generate_key

ECDSA_SHA256_ALG = bytes.fromhex("300a06082a8648ce3d040302")
ECDSA_SHA256_ALG_WITH_NULL = bytes.fromhex("300c06082a8648ce3d0403020500")


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def libziti_style(csr: x509.CertificateSigningRequest) -> bytes:
    """Rebuild ``csr`` the way libziti 0.29.3 encodes it: NULL parameter in the ECDSA AlgorithmIdentifier."""
    der = csr.public_bytes(Encoding.DER)
    info = csr.tbs_certrequest_bytes
    rest = der[der.index(info) + len(info) :]
    assert rest.startswith(ECDSA_SHA256_ALG)
    body = info + ECDSA_SHA256_ALG_WITH_NULL + rest[len(ECDSA_SHA256_ALG) :]
    return b"\x30" + der_length(len(body)) + body


def to_pem(der: bytes) -> bytes:
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{lines}\n-----END CERTIFICATE REQUEST-----\n".encode()


@pytest.fixture(scope="module")
def libziti_der() -> bytes:
    return libziti_style(create_csr(generate_key("ec256"), "identity-1"))


def test_libziti_csr_is_refused_by_cryptography_but_loaded_by_us(libziti_der, intermediate):
    assert ECDSA_SHA256_ALG_WITH_NULL in libziti_der
    with pytest.raises(ValueError, match="ExtraData"):
        x509.load_der_x509_csr(libziti_der)
    for data in (libziti_der, to_pem(libziti_der), to_pem(libziti_der).decode()):
        csr = load_csr(data)
        assert csr.is_signature_valid
        assert csr.subject.rfc4514_string() == "CN=identity-1"
    cert = intermediate.sign_csr(load_csr(to_pem(libziti_der)))
    cert.verify_directly_issued_by(intermediate.cert)


def test_long_form_outer_length_is_reencoded():
    # A long subject pushes the outer SEQUENCE past 255 bytes, so its length needs two octets.
    key = generate_key("ec256")
    csr = create_csr(key, "n" * 64, dns=[f"host{i}.example.test" for i in range(20)])
    der = libziti_style(csr)
    assert der[1] == 0x82
    normal = normalise_der(der)
    assert normal == csr.public_bytes(Encoding.DER)
    assert load_csr(der).is_signature_valid


def test_normal_csrs_pass_unchanged():
    for kind in ("ec256", "ec384", "rsa2048"):
        der = create_csr(generate_key(kind), "x").public_bytes(Encoding.DER)
        assert normalise_der(der) == der
        assert load_csr(der).is_signature_valid


def test_create_csr_and_requested_sans():
    csr = create_csr(generate_key("ec256"), "router", dns=("r.example", "127.0.0.1"))
    assert csr.is_signature_valid
    assert requested_sans(csr) == (["r.example", "127.0.0.1"], ["127.0.0.1"])
    assert requested_sans(create_csr(generate_key("ec256"), "plain")) == ([], [])


def test_pem_text_around_the_block_is_ignored(libziti_der):
    assert load_csr(b"note\n" + to_pem(libziti_der) + b"trailer").is_signature_valid


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",
        b"\x30\x80\x00\x00",
        b"\x30\x03\x02\x01\x01",
        b"\x30\x85\xff\xff\xff\xff\xff",
        "-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" * 2,
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----é",
        b"\x30" + b"\x00" * (MAX_CSR_BYTES + 1),
    ],
)
def test_garbage_raises_validation_error(data):
    with pytest.raises(ValidationError):
        load_csr(data)


def test_two_csrs_in_one_pem_are_refused(libziti_der):
    with pytest.raises(ValidationError, match="exactly one"):
        load_csr(to_pem(libziti_der) * 2)


@pytest.mark.parametrize(
    "key",
    [rsa.generate_private_key(public_exponent=65537, key_size=1024), ed25519.Ed25519PrivateKey.generate()],
    ids=["rsa1024", "ed25519"],
)
def test_weak_or_foreign_keys_are_refused(key):
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")])
    )
    csr = builder.sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    with pytest.raises(ValidationError):
        load_csr(csr.public_bytes(Encoding.PEM))


def _only_validation_errors(data) -> None:
    with contextlib.suppress(ValidationError):
        load_csr(data)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=2048), st.text(max_size=2048)))
def test_random_input_only_raises_validation_error(data):
    _only_validation_errors(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_csrs_only_raise_validation_error(libziti_der, data):
    der = bytearray(libziti_der)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(der) - 1))
        der[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(der)))
    _only_validation_errors(bytes(der[:cut]))
    _only_validation_errors(to_pem(bytes(der)))
