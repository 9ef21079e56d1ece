"""The enrollment trust checks: what one connection to the issuer yielded is trusted only if it all fits together."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.common.errors import EnrollmentRefused, InvalidEnrollmentToken
from ziti_aio.pki.bundle import cacerts_body, load_certs_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.controller_trust import token_issuer, trust_from_token
from ziti_aio.pki.enrollment_jwt import sign_enrollment_jwt

ISSUER = "https://ctrl.example.test:1280"


def token(server, issuer: str = ISSUER) -> str:
    cert, key = server
    return sign_enrollment_jwt(key=key, cert=cert, issuer=issuer, subject="id1", token="t1", method="ott",
                               expires_at=datetime.now(UTC) + timedelta(hours=1))


def der(server) -> bytes:
    return server[0].public_bytes(Encoding.DER)


def test_a_leaf_that_signed_the_token_and_chains_to_the_bundle_is_trusted(server, root_ca, intermediate):
    trusted = trust_from_token(token(server), der(server), cacerts_body([root_ca.cert, intermediate.cert]))
    assert trusted.issuer.url == ISSUER and trusted.issuer.host == "ctrl.example.test"
    assert trusted.issuer.port == 1280
    assert trusted.claims["jti"] == "t1"
    assert {c.subject for c in load_certs_pem(trusted.ca_pem)} == {root_ca.cert.subject, intermediate.cert.subject}


def test_a_token_signed_by_another_key_is_refused(server, intermediate, root_ca):
    other = intermediate.issue_server("ctrl", dns=("ctrl.example.test",))
    with pytest.raises(EnrollmentRefused, match=re.escape(f"not signed by the server at {ISSUER}")):
        trust_from_token(token(other), der(server), cacerts_body([root_ca.cert, intermediate.cert]))


def test_a_bundle_that_did_not_issue_the_leaf_is_refused(server):
    lookalike = CertAuthority.create_root("Test Root", trust_domain="example.test")
    signer = lookalike.create_intermediate("Test Signer")
    with pytest.raises(EnrollmentRefused, match="does not chain to the CA bundle it served"):
        trust_from_token(token(server), der(server), cacerts_body([lookalike.cert, signer.cert]))


def test_a_bundle_without_its_root_is_refused(server, intermediate):
    with pytest.raises(EnrollmentRefused, match="holds no root certificate"):
        trust_from_token(token(server), der(server), cacerts_body([intermediate.cert]))


def test_a_leaf_for_another_host_is_refused(server, root_ca, intermediate):
    with pytest.raises(EnrollmentRefused, match="does not chain"):
        trust_from_token(token(server, "https://elsewhere.test"), der(server),
                         cacerts_body([root_ca.cert, intermediate.cert]))


def test_an_expired_leaf_is_refused(server, root_ca, intermediate):
    later = datetime.now(UTC) + timedelta(days=3650)
    with pytest.raises(EnrollmentRefused, match="does not chain"):
        trust_from_token(token(server), der(server), cacerts_body([root_ca.cert, intermediate.cert]), now=later)


@pytest.mark.parametrize("body", [b"", b"not base64 at all", b"A" * (1024 * 1024 + 1)])
def test_an_unusable_bundle_is_refused(server, body):
    with pytest.raises(EnrollmentRefused, match=re.escape(f"CA bundle of {ISSUER} is unusable")):
        trust_from_token(token(server), der(server), body)


def test_an_unreadable_leaf_is_refused(server, root_ca, intermediate):
    with pytest.raises(EnrollmentRefused, match="unreadable certificate"):
        trust_from_token(token(server), b"\x30\x03junk", cacerts_body([root_ca.cert, intermediate.cert]))


@pytest.mark.parametrize("iss", ["http://ctrl:1280", "https://", "ctrl:1280", "https://ctrl:99999"])
def test_the_issuer_must_be_an_https_url(iss):
    with pytest.raises(InvalidEnrollmentToken, match="not an https URL"):
        token_issuer({"iss": iss})
