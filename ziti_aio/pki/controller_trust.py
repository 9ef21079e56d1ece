"""Trust bootstrapped from an enrollment JWT: which CA bundle a new identity or router may trust.

Nothing is trusted before enrollment, so the JWT is the anchor (docs/edge-api.md §2.1, §3.1): it is signed
with the key of the TLS server certificate the controller presents at the JWT's issuer. What one TLS
connection to that issuer yielded -- the server's leaf certificate and the body of
``/.well-known/est/cacerts`` -- is accepted only when the JWT verifies with that leaf, and the leaf chains,
for the issuer's host name, to a root of that bundle. Pure checks: the fetching lives in
:mod:`ziti_aio.sdk.bootstrap`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from ziti_aio.common.errors import EnrollmentRefused, InvalidEnrollmentToken, ValidationError
from ziti_aio.pki.bundle import certs_to_pem, parse_pkcs7_certs
from ziti_aio.pki.enrollment_jwt import read_enrollment_jwt

DEFAULT_HTTPS_PORT = 443


@dataclass(frozen=True)
class Issuer:
    """The controller an enrollment JWT names: its URL (no trailing slash), host and port."""

    url: str
    host: str
    port: int


@dataclass(frozen=True)
class TrustedController:
    """An enrollment JWT whose issuer passed the checks, and the CA bundle (PEM) now trusted for it."""

    issuer: Issuer
    claims: dict[str, Any] = field(repr=False)
    ca_pem: str


def token_issuer(claims: dict[str, Any]) -> Issuer:
    """The issuer of decoded enrollment claims; :class:`InvalidEnrollmentToken` unless it is an https URL."""
    url = str(claims["iss"]).rstrip("/")
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_HTTPS_PORT
    except ValueError as exc:
        raise InvalidEnrollmentToken(f"the token's issuer is not an https URL: {url!r}") from exc
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidEnrollmentToken(f"the token's issuer is not an https URL: {url!r}")
    return Issuer(url, parts.hostname, port)


def _server_name(host: str) -> x509.DNSName | x509.IPAddress:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def require_chain(leaf: x509.Certificate, bundle: list[x509.Certificate], *, host: str,
                  now: datetime | None = None) -> None:
    """Refuse unless ``leaf`` is a server certificate for ``host``, valid ``now``, issued through ``bundle``'s
    certificates up to a self-signed root in ``bundle`` (signatures checked, not only names)."""
    roots = [c for c in bundle if c.subject == c.issuer]
    if not roots:
        raise EnrollmentRefused("refusing to enroll: the controller's CA bundle holds no root certificate")
    intermediates = [c for c in bundle if c.subject != c.issuer]
    verifier = (PolicyBuilder().store(Store(roots)).time(now or datetime.now(UTC))
                .build_server_verifier(_server_name(host)))
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        raise EnrollmentRefused(f"refusing to enroll: the certificate of {host} does not chain to the CA bundle "
                                f"it served ({exc})") from exc


def trust_from_token(jwt_text: str, leaf_der: bytes, cacerts: bytes, *,
                     now: datetime | None = None) -> TrustedController:
    """Check what one TLS connection to the JWT's issuer yielded: its leaf certificate (DER) and the
    ``cacerts`` body. The JWT must be signed by that leaf's key and the leaf must chain to the bundle.

    Error handling: every refusal is an :class:`EnrollmentRefused` saying which check failed; a malformed
    token is an :class:`InvalidEnrollmentToken`.
    """
    claims = read_enrollment_jwt(jwt_text)
    issuer = token_issuer(claims)
    try:
        leaf = x509.load_der_x509_certificate(leaf_der)
    except ValueError as exc:
        raise EnrollmentRefused(f"refusing to enroll: {issuer.url} presented an unreadable certificate") from exc
    try:
        read_enrollment_jwt(jwt_text, verify_with_cert=leaf)
    except InvalidEnrollmentToken as exc:
        raise EnrollmentRefused(
            f"refusing to enroll: the token is not signed by the server at {issuer.url} ({exc.message})") from exc
    try:
        bundle = parse_pkcs7_certs(cacerts)
    except ValidationError as exc:
        raise EnrollmentRefused(f"refusing to enroll: the CA bundle of {issuer.url} is unusable ({exc.message})"
                                ) from exc
    require_chain(leaf, bundle, host=issuer.host, now=now)
    return TrustedController(issuer, claims, certs_to_pem(bundle).decode())
