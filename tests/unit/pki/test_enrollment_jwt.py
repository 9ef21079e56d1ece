"""Enrollment JWTs: OpenZiti's header and claims, verification, and refusal of forged or malformed tokens."""

import base64
import contextlib
import hashlib
import hmac
import json
import math
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from ziti_aio.common.errors import InvalidEnrollmentToken, ValidationError
from ziti_aio.pki.bundle import fingerprint_sha1
from ziti_aio.pki.enrollment_jwt import (
    MAX_JWT_CHARS,
    enrollment_jwks,
    read_enrollment_jwt,
    sign_enrollment_jwt,
    sign_network_jwt,
)
from ziti_aio.pki.keys import generate_key

EXPIRES = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
ISSUER = "https://127.0.0.1:1280"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    return tuple(json.loads(base64.urlsafe_b64decode(part + "==")) for part in (header, payload))


def sign(key, cert, **overrides):
    args = dict(key=key, cert=cert, issuer=ISSUER, subject="id-1", token="tok-1", method="ott", expires_at=EXPIRES)
    return sign_enrollment_jwt(**(args | overrides))


def test_rs256_token_has_openziti_header_and_exact_claims(server):
    cert, key = server
    token = sign(key, cert)
    header, payload = segments(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": fingerprint_sha1(cert)}
    assert payload == {
        "iss": ISSUER,
        "sub": "id-1",
        "jti": "tok-1",
        "em": "ott",
        "exp": int(EXPIRES.timestamp()),
        "aud": [""],
    }
    assert read_enrollment_jwt(token, verify_with_cert=cert) == payload
    assert read_enrollment_jwt(token + "\n") == payload


def test_controllers_claim_when_given(server):
    cert, key = server
    _, payload = segments(sign(key, cert, controllers=["tls:ctrl:1280"], method="erott"))
    assert payload["ctrls"] == ["tls:ctrl:1280"] and payload["em"] == "erott"


@pytest.mark.parametrize(("kind", "alg"), [("ec256", "ES256"), ("ec384", "ES384")])
def test_ec_keys_sign_by_curve(intermediate, kind, alg):
    cert, key = intermediate.issue_server("ec", dns=("ec.test",), key_kind=kind)
    token = sign(key, cert)
    assert segments(token)[0]["alg"] == alg
    assert read_enrollment_jwt(token, verify_with_cert=cert)["jti"] == "tok-1"


def test_expired_tokens_still_read(server):
    cert, key = server
    token = sign(key, cert, expires_at=datetime.now(UTC) - timedelta(days=1))
    assert read_enrollment_jwt(token, verify_with_cert=cert)["sub"] == "id-1"


def test_signing_refuses_naive_time_and_foreign_key(server):
    cert, key = server
    with pytest.raises(ValidationError):
        sign(key, cert, expires_at=datetime(2031, 1, 1))
    with pytest.raises(ValidationError):
        sign(generate_key("rsa2048"), cert)


def test_token_signed_by_another_key_is_refused(intermediate, server):
    cert, _ = server
    other_cert, other_key = intermediate.issue_server("other", key_kind="rsa2048")
    forged = sign(other_key, other_cert)
    with pytest.raises(InvalidEnrollmentToken):
        read_enrollment_jwt(forged, verify_with_cert=cert)


def test_tampered_payload_is_refused(server):
    cert, key = server
    header, _, signature = sign(key, cert).split(".")
    payload = b64url(json.dumps({"iss": ISSUER, "sub": "admin", "jti": "t", "em": "ott", "exp": 1}).encode())
    with pytest.raises(InvalidEnrollmentToken):
        read_enrollment_jwt(f"{header}.{payload}.{signature}", verify_with_cert=cert)


def test_alg_none_is_refused_even_unverified(server):
    cert, _ = server
    claims = {"iss": ISSUER, "sub": "id-1", "jti": "t", "em": "ott", "exp": 2_000_000_000}
    for alg in ("none", "None", "NONE"):
        token = f"{b64url(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{b64url(json.dumps(claims).encode())}."
        for verify in (None, cert):
            with pytest.raises(InvalidEnrollmentToken):
                read_enrollment_jwt(token, verify_with_cert=verify)


def test_hmac_with_public_key_as_secret_is_refused(server):
    cert, _ = server
    public_pem = cert.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    claims = {"iss": ISSUER, "sub": "id-1", "jti": "t", "em": "ott", "exp": 2_000_000_000}
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = b64url(json.dumps(claims).encode())
    signature = b64url(hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidEnrollmentToken):
        read_enrollment_jwt(f"{header}.{body}.{signature}", verify_with_cert=cert)


def test_wrong_algorithm_for_the_certificate_is_refused(intermediate, server):
    cert, _ = server
    ec_cert, ec_key = intermediate.issue_server("ec", key_kind="ec256")
    with pytest.raises(InvalidEnrollmentToken):
        read_enrollment_jwt(sign(ec_key, ec_cert), verify_with_cert=cert)


@pytest.mark.parametrize("missing", ["iss", "sub", "jti", "em", "exp"])
def test_missing_claims_are_refused(server, missing):
    cert, key = server
    claims = {"iss": ISSUER, "sub": "id-1", "jti": "t", "em": "ott", "exp": 2_000_000_000}
    del claims[missing]
    token = jwt.encode(claims, key, algorithm="RS256")
    for verify in (None, cert):
        with pytest.raises(InvalidEnrollmentToken):
            read_enrollment_jwt(token, verify_with_cert=verify)


@pytest.mark.parametrize("text", ["", "a.b.c", "a.b", "....", "x" * (MAX_JWT_CHARS + 1), b"bytes", None])
def test_garbage_is_refused(server, text):
    for verify in (None, server[0]):
        with pytest.raises(InvalidEnrollmentToken):
            read_enrollment_jwt(text, verify_with_cert=verify)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=512), st.text(max_size=512), st.text(max_size=64))
def test_random_tokens_only_raise_invalid_enrollment_token(server, header, payload, signature):
    for text in (header, f"{b64url(header.encode())}.{b64url(payload.encode())}.{signature}"):
        for verify in (None, server[0]):
            with contextlib.suppress(InvalidEnrollmentToken):
                read_enrollment_jwt(text, verify_with_cert=verify)


CLAIM_VALUES = st.one_of(
    st.text(max_size=20), st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.text())
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["RS256", "ES256", "ES384", "HS256", "none", ""]),
    st.dictionaries(st.sampled_from(["iss", "sub", "jti", "em", "exp", "aud", "ctrls"]), CLAIM_VALUES),
)
def test_structured_tokens_are_either_complete_or_refused(alg, claims):
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    token = f"{header}.{b64url(json.dumps(claims).encode())}.c2ln"
    try:
        read = read_enrollment_jwt(token)
    except InvalidEnrollmentToken:
        return
    assert alg in ("RS256", "ES256", "ES384")
    assert all(isinstance(read[name], str) for name in ("iss", "sub", "jti", "em"))
    assert not isinstance(read["exp"], bool) and math.isfinite(read["exp"])


@pytest.mark.parametrize("kind", ["rsa2048", "ec256"])
def test_the_jwks_verifies_what_the_certificate_signs(intermediate, kind):
    cert, key = intermediate.issue_server(f"jwks-{kind}", dns=("jwks.test",), key_kind=kind)
    [jwk] = enrollment_jwks(cert)["keys"]
    assert "d" not in jwk, "public only"
    token = sign(key, cert)
    assert jwk["kid"] == jwt.get_unverified_header(token)["kid"] == fingerprint_sha1(cert)
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], options={"verify_aud": False})
    assert claims["jti"] == "tok-1"


def test_network_jwt_claims_and_foreign_key(intermediate, server):
    cert, key = server
    header, claims = segments(sign_network_jwt(key=key, cert=cert, issuer=ISSUER))
    assert header["kid"] == fingerprint_sha1(cert)
    assert claims.keys() == {"iss", "sub", "jti", "em", "aud"}, "no exp: it never expires"
    assert (claims["iss"], claims["sub"], claims["em"], claims["aud"]) == (ISSUER, ISSUER, "network",
                                                                            ["openziti-enroller"])
    _, other_key = intermediate.issue_server("other-net", key_kind="rsa2048")
    with pytest.raises(ValidationError):
        sign_network_jwt(key=other_key, cert=cert, issuer=ISSUER)
