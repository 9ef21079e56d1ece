"""CertAuthority: roots, intermediates, server and client certificates, CSR signing."""

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from ziti_aio.common.errors import ValidationError
from ziti_aio.pki import ca as ca_module
from ziti_aio.pki.bundle import load_certs_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.keys import generate_key

from .conftest import TRUST_DOMAIN

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def sans(cert, kind):
    return ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(kind)


def ekus(cert):
    return set(ext(cert, x509.ExtendedKeyUsage).value)


def test_root_is_a_self_signed_ca_with_spiffe_trust_domain(root_ca):
    cert = root_ca.cert
    cert.verify_directly_issued_by(cert)
    constraints = ext(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length is None
    usage = ext(cert, x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert ext(cert, x509.SubjectKeyIdentifier).value.digest
    assert sans(cert, x509.UniformResourceIdentifier) == [f"spiffe://{TRUST_DOMAIN}"]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Test Root"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ziti-aio"
    assert root_ca.chain == () and root_ca.trust_domain == TRUST_DOMAIN
    assert isinstance(root_ca.key, ec.EllipticCurvePrivateKey) and root_ca.key.curve.name == "secp256r1"


def test_root_validity_and_serials_follow_the_clock():
    a = CertAuthority.create_root("a", days=10, now=NOW, key_kind="ec384")
    b = ca_module.create_root("b", days=10, now=NOW)
    assert a.cert.not_valid_before_utc == NOW - timedelta(minutes=1)
    assert a.cert.not_valid_after_utc == NOW + timedelta(days=10)
    assert a.cert.serial_number != b.cert.serial_number
    assert 0 < a.cert.serial_number < 2**128
    assert a.key.curve.name == "secp384r1"
    with pytest.raises(x509.ExtensionNotFound):
        ext(b.cert, x509.SubjectAlternativeName)


def test_intermediate_chains_to_root(root_ca, intermediate):
    intermediate.cert.verify_directly_issued_by(root_ca.cert)
    assert intermediate.chain == (root_ca.cert,)
    assert intermediate.certs == (intermediate.cert, root_ca.cert)
    aki = ext(intermediate.cert, x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ext(root_ca.cert, x509.SubjectKeyIdentifier).value.digest
    constraints = ext(intermediate.cert, x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert intermediate.trust_domain == TRUST_DOMAIN
    assert intermediate.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ziti-aio"


def test_path_length_limits_are_enforced(root_ca, intermediate):
    with pytest.raises(ValidationError):
        intermediate.create_intermediate("too deep")
    limited = CertAuthority.create_root("limited", max_path_len=1)
    with pytest.raises(ValidationError):
        limited.create_intermediate("unlimited", max_path_len=None)
    limited.create_intermediate("ok", max_path_len=0).cert.verify_directly_issued_by(limited.cert)
    with pytest.raises(ValidationError):
        root_ca.create_intermediate("negative", max_path_len=-1)
    with pytest.raises(ValidationError):
        CertAuthority.create_root("negative", max_path_len=-2)


def test_naive_now_is_taken_as_utc():
    naive = CertAuthority.create_root("naive", now=NOW.replace(tzinfo=None))
    assert naive.cert.not_valid_before_utc == NOW - timedelta(minutes=1)
    cert, _ = naive.issue_client("c", now=NOW.replace(tzinfo=None))
    assert cert.not_valid_after_utc == NOW + timedelta(days=365)


def test_server_cert_has_dns_and_ip_sans_and_both_ekus(root_ca, intermediate, server):
    cert, key = server
    cert.verify_directly_issued_by(intermediate.cert)
    assert sans(cert, x509.DNSName) == ["localhost", "ctrl.example.test", "127.0.0.1", "::1"]
    assert sans(cert, x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    assert ekus(cert) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not ext(cert, x509.BasicConstraints).value.ca
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert cert.public_key() == key.public_key()


@pytest.mark.parametrize(
    "name", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], ids=["dns", "ip"]
)
def test_server_chain_verifies_as_rfc5280_path(root_ca, intermediate, server, name):
    verifier = PolicyBuilder().store(Store([root_ca.cert])).time(datetime.now(UTC)).build_server_verifier(name)
    path = verifier.verify(server[0], [intermediate.cert])
    assert path == [server[0], intermediate.cert, root_ca.cert]


def test_server_cert_refuses_other_hostname(root_ca, intermediate, server):
    verifier = PolicyBuilder().store(Store([root_ca.cert])).build_server_verifier(x509.DNSName("evil.test"))
    with pytest.raises(x509.verification.VerificationError):
        verifier.verify(server[0], [intermediate.cert])


def test_dns_ip_literal_also_gets_ip_san_and_spiffe_path_joins_trust_domain(intermediate):
    key = generate_key("ec256")
    cert, same_key = intermediate.issue_server("x", dns=("10.0.0.1",), key=key, spiffe_id="controller/c1")
    assert same_key is key
    assert sans(cert, x509.DNSName) == ["10.0.0.1"]
    assert sans(cert, x509.IPAddress) == [ipaddress.ip_address("10.0.0.1")]
    assert sans(cert, x509.UniformResourceIdentifier) == [f"spiffe://{TRUST_DOMAIN}/controller/c1"]


def test_client_cert(root_ca, intermediate):
    cert, key = intermediate.issue_client("alice", spiffe_id="spiffe://other.test/identity/alice")
    cert.verify_directly_issued_by(intermediate.cert)
    assert ekus(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    usage = ext(cert, x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.data_encipherment
    assert not usage.key_cert_sign
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert sans(cert, x509.UniformResourceIdentifier) == ["spiffe://other.test/identity/alice"]
    verifier = PolicyBuilder().store(Store([root_ca.cert])).build_client_verifier()
    assert verifier.verify(cert, [intermediate.cert]).chain[-1] == root_ca.cert


def test_sign_csr_copies_subject_and_sets_usages(intermediate):
    key = generate_key("ec256")
    csr = create_csr(key, "identity-1", dns=("ignored.example",))
    cert = intermediate.sign_csr(csr, spiffe_id="identity/identity-1", now=NOW)
    cert.verify_directly_issued_by(intermediate.cert)
    assert cert.subject == csr.subject
    assert cert.public_key() == key.public_key()
    usage = ext(cert, x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and usage.data_encipherment
    assert ekus(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert sans(cert, x509.UniformResourceIdentifier) == [f"spiffe://{TRUST_DOMAIN}/identity/identity-1"]
    assert sans(cert, x509.DNSName) == []
    assert cert.not_valid_before_utc == NOW - timedelta(minutes=1)
    assert cert.not_valid_after_utc == NOW + timedelta(days=365)


def test_sign_csr_for_server(intermediate):
    csr = create_csr(generate_key("ec256"), "router-1")
    cert = intermediate.sign_csr(csr, server=True, dns=("router1.example",), ips=("192.0.2.7",))
    assert ekus(cert) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert sans(cert, x509.DNSName) == ["router1.example", "192.0.2.7"]
    assert sans(cert, x509.IPAddress) == [ipaddress.ip_address("192.0.2.7")]


def test_sign_csr_refuses_bad_signature(intermediate):
    raw = create_csr(generate_key("ec256"), "victim").public_bytes(Encoding.DER)
    # The last byte belongs to the ECDSA signature's s value: the structure stays valid, the signature does not.
    tampered = x509.load_der_x509_csr(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert not tampered.is_signature_valid
    with pytest.raises(ValidationError, match="signature"):
        intermediate.sign_csr(tampered)


def test_leaf_validity_is_capped_at_ca_expiry():
    short = CertAuthority.create_root("short", days=2, now=NOW)
    cert, _ = short.issue_client("c", days=365, now=NOW)
    assert cert.not_valid_after_utc == short.cert.not_valid_after_utc


def test_chain_pem_is_leaf_then_issuers(root_ca, intermediate, server):
    assert load_certs_pem(intermediate.chain_pem(server[0])) == [server[0], intermediate.cert, root_ca.cert]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda ca: ca.issue_client("c", days=0), "days"),
        (lambda ca: ca.issue_client("c", days=True), "days"),
        (lambda ca: ca.issue_server("s", ips=("not-an-ip",)), "ip"),
        (lambda ca: ca.issue_server("s", dns=("bad name",)), "dns"),
        (lambda ca: ca.issue_client("", key_kind="ec256"), "common name"),
        (lambda ca: ca.issue_client("c", key_kind="dsa"), "kind"),
        (lambda ca: ca.issue_client("c", spiffe_id="spiffe://Bad Domain/x"), "trustDomain"),
        (lambda ca: ca.issue_client("c", spiffe_id="/a/../b"), "spiffeId"),
    ],
)
def test_bad_arguments_raise_validation_error(intermediate, call, field):
    with pytest.raises(ValidationError) as info:
        call(intermediate)
    assert info.value.field == field


def test_relative_spiffe_id_needs_a_trust_domain():
    plain = CertAuthority.create_root("plain")
    assert plain.trust_domain is None
    with pytest.raises(ValidationError):
        plain.issue_client("c", spiffe_id="identity/x")
    with pytest.raises(ValidationError):
        CertAuthority.create_root("r", trust_domain="UPPER.case")
