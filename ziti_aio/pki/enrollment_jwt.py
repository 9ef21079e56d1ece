"""Enrollment JWTs as OpenZiti issues them: signed by the controller's TLS server key, read by SDKs and routers."""

from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ziti_aio.common.errors import InvalidEnrollmentToken, ValidationError
from ziti_aio.pki.bundle import fingerprint_sha1

if TYPE_CHECKING:
    from datetime import datetime

    from cryptography import x509
    from jwt.types import Options

    from ziti_aio.pki.keys import PrivateKey, PublicKey

MAX_JWT_CHARS = 16 * 1024
ALGORITHMS = ("RS256", "ES256", "ES384")
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384"}
_STRING_CLAIMS = ("iss", "sub", "jti", "em")
NETWORK_METHOD = "network"
NETWORK_AUDIENCE = "openziti-enroller"


def jwt_algorithm(key: PrivateKey | PublicKey) -> str:
    """The JWS algorithm for ``key``: RS256 for RSA, ES256/ES384 by curve; :class:`ValidationError` otherwise."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and key.curve.name in _EC_ALGORITHMS:
        return _EC_ALGORITHMS[key.curve.name]
    raise ValidationError(f"cannot sign enrollment JWTs with a {type(key).__name__}; use RSA, P-256 or P-384")


def sign_enrollment_jwt(
    *,
    key: PrivateKey,
    cert: x509.Certificate,
    issuer: str,
    subject: str,
    token: str,
    method: str,
    expires_at: datetime,
    controllers: list[str] | None = None,
) -> str:
    """An enrollment JWT: header ``alg``/``typ``/``kid`` (SHA-1 of ``cert``), claims ``iss sub jti em exp aud``
    and ``ctrls`` when ``controllers`` is given.

    ``key`` must be the private key of ``cert``, the TLS server certificate served at ``issuer``: libziti 0.29.3
    checks the signature against that certificate, and accepts only RS256 there.
    """
    if expires_at.tzinfo is None:
        raise ValidationError("expires_at must be timezone-aware", field="expiresAt", value=str(expires_at))
    if key.public_key() != cert.public_key():
        raise ValidationError("the signing key does not belong to the certificate")
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "jti": token,
        "em": method,
        "exp": int(expires_at.timestamp()),
        "aud": [""],
    }
    if controllers is not None:
        claims["ctrls"] = list(controllers)
    return jwt.encode(claims, key, algorithm=jwt_algorithm(key), headers={"kid": fingerprint_sha1(cert)})


def sign_network_jwt(*, key: PrivateKey, cert: x509.Certificate, issuer: str) -> str:
    """The network JWT (docs/sdk-1x.md §4.4): names the controller, enrolls no one, never expires.

    Claims ``iss`` = ``sub`` = ``issuer``, a random ``jti``, ``em: network``, ``aud: [openziti-enroller]``;
    signed like enrollment JWTs so a client can check it against the server certificate.
    """
    if key.public_key() != cert.public_key():
        raise ValidationError("the signing key does not belong to the certificate")
    claims = {"iss": issuer, "sub": issuer, "jti": str(uuid.uuid4()), "em": NETWORK_METHOD,
              "aud": [NETWORK_AUDIENCE]}
    return jwt.encode(claims, key, algorithm=jwt_algorithm(key), headers={"kid": fingerprint_sha1(cert)})


def sign_ca_jwt(*, key: PrivateKey, cert: x509.Certificate, issuer: str, ca_id: str) -> str:
    """A third-party CA's enrollment JWT (``GET /cas/{id}/jwt``): ``em: ca``, ``sub`` = ``jti`` = the CA's id,
    ``aud: [openziti-enroller]``, no expiry (OpenZiti's shape); signed like enrollment JWTs."""
    if key.public_key() != cert.public_key():
        raise ValidationError("the signing key does not belong to the certificate")
    claims = {"iss": issuer, "sub": ca_id, "jti": ca_id, "em": "ca", "aud": [NETWORK_AUDIENCE]}
    return jwt.encode(claims, key, algorithm=jwt_algorithm(key), headers={"kid": fingerprint_sha1(cert)})


def enrollment_jwks(cert: x509.Certificate) -> dict[str, Any]:
    """The JWKS of the key that signs enrollment JWTs: one public JWK, ``kid`` as in their headers."""
    public_key = cert.public_key()
    jwk: dict[str, Any]
    if isinstance(public_key, rsa.RSAPublicKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        raise ValidationError(f"cannot sign enrollment JWTs with a {type(public_key).__name__}")
    jwk.update(kid=fingerprint_sha1(cert), use="sig", alg=jwt_algorithm(public_key))
    return {"keys": [jwk]}


def read_enrollment_jwt(text: str, *, verify_with_cert: x509.Certificate | None = None) -> dict[str, Any]:
    """The claims of an enrollment JWT, its signature verified against ``verify_with_cert`` when given.

    Without a certificate the token is only decoded, as libziti does before it checks the signature through
    the TLS handshake. Either way ``alg`` must be one of :data:`ALGORITHMS` (never ``none``) and the string
    claims ``iss``, ``sub``, ``jti``, ``em`` and a numeric ``exp`` must be present. Expiry is not checked: the
    controller checks it against the stored enrollment.
    Error handling: anything malformed, forged or over 16 KiB raises :class:`InvalidEnrollmentToken`.
    """
    if not isinstance(text, str) or len(text) > MAX_JWT_CHARS:
        raise InvalidEnrollmentToken("the enrollment token is not a JWT of at most 16 KiB")
    text = text.strip()
    unchecked: Options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}
    try:
        alg = jwt.get_unverified_header(text).get("alg")
        if alg not in ALGORITHMS:
            raise InvalidEnrollmentToken(f"unsupported JWT algorithm {alg!r}")
        if verify_with_cert is None:
            claims = jwt.decode(text, options={**unchecked, "verify_signature": False})
        else:
            public_key = verify_with_cert.public_key()
            if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
                raise ValidationError(f"cannot verify with a {type(public_key).__name__}; use RSA, P-256 or P-384")
            claims = jwt.decode(text, public_key, algorithms=[jwt_algorithm(public_key)], options=unchecked)
    except (jwt.PyJWTError, ValidationError, ValueError, TypeError) as exc:
        raise InvalidEnrollmentToken(f"invalid enrollment JWT: {exc}") from exc
    if not all(isinstance(claims.get(name), str) for name in _STRING_CLAIMS):
        raise InvalidEnrollmentToken("the enrollment JWT lacks one of iss, sub, jti, em")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        raise InvalidEnrollmentToken("the enrollment JWT has no numeric exp")
    return claims
