"""OTT identity enrollment the way libziti 0.29.3 does it, writing its identity file.

Trust is bootstrapped from the token, not from any CA: ``/.well-known/est/cacerts`` is fetched
over TLS that trusts nothing, and the enrollment JWT must verify with the public key of the
server certificate seen on that very connection. Only then is the fetched CA bundle trusted,
for the enrollment request and, in the identity file, from then on.
"""

from __future__ import annotations

import json
import os
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ziti_aio.common.errors import InvalidEnrollmentToken, ZitiError
from ziti_aio.pki.bundle import MAX_BUNDLE_BYTES, certs_to_pem, parse_pkcs7_certs
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.enrollment_jwt import read_enrollment_jwt
from ziti_aio.pki.keys import PrivateKey, generate_key

CLIENT_PATH = "/edge/client/v1"
CACERTS_PATH = "/.well-known/est/cacerts"
ENROLL_TIMEOUT_S = 30.0


class EnrollmentRefused(ZitiError):
    """The token's issuer is not trusted, or the controller refused the enrollment."""

    code = "ENROLLMENT_REFUSED"
    http_status = 400


def verify_issuer(text: str, iss: str, leaf: x509.Certificate) -> None:
    """Refuse unless the JWT is signed by the key of the server certificate ``iss`` presented, still valid."""
    try:
        read_enrollment_jwt(text, verify_with_cert=leaf)
    except InvalidEnrollmentToken as exc:
        raise EnrollmentRefused(
            f"refusing to enroll: the token is not signed by the server at {iss} ({exc.message})") from exc
    now = datetime.now(UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise EnrollmentRefused(f"refusing to enroll: the server certificate of {iss} is not valid now")


def identity_file(iss: str, cert_pem: str, key: PrivateKey, ca_pem: str) -> dict[str, Any]:
    """The identity file as libziti 0.29.3 writes it: raw PEM strings, no ``pem:`` prefix."""
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return {"ztAPI": iss, "id": {"cert": cert_pem, "key": key_pem, "ca": ca_pem}}


def write_new(path: Path, data: dict[str, Any]) -> None:
    """Create ``path`` (0600, never overwriting) holding ``data`` as JSON."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)


def refusal(resp: httpx.Response) -> EnrollmentRefused:
    """The controller's error envelope (code: message) as an :class:`EnrollmentRefused`."""
    try:
        error = resp.json().get("error") or {}
    except ValueError:
        error = {}
    return EnrollmentRefused(f"{error.get('code') or f'HTTP_{resp.status_code}'}: "
                             f"{error.get('message') or resp.reason_phrase or 'request failed'}")


async def _cacerts_unverified(iss: str) -> tuple[x509.Certificate, str]:
    """The server's leaf certificate and its CA bundle (PEM), both from one TLS connection trusting no CA."""
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    body = bytearray()
    try:
        async with httpx.AsyncClient(verify=probe) as http, \
                http.stream("GET", iss + CACERTS_PATH, headers={"Accept": "application/pkcs7-mime"}) as resp:
            der = resp.extensions["network_stream"].get_extra_info("ssl_object").getpeercert(True)
            if resp.is_error:
                await resp.aread()
                raise refusal(resp)
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_BUNDLE_BYTES:
                    raise EnrollmentRefused(f"the CA bundle at {iss} is larger than {MAX_BUNDLE_BYTES} bytes")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise EnrollmentRefused(f"cannot reach {iss}: {exc}") from exc
    if not der:
        raise EnrollmentRefused(f"{iss} presented no server certificate")
    return x509.load_der_x509_certificate(der), certs_to_pem(parse_pkcs7_certs(bytes(body))).decode()


async def enroll_identity(jwt_text: str, out: Path, *, timeout_s: float = ENROLL_TIMEOUT_S) -> str:
    """Enroll an ``ott`` identity with ``jwt_text`` and write its identity file to ``out`` (new, 0600).

    Returns the identity's name (the token's ``sub``). Raises :class:`ZitiError` subclasses.
    """
    text = jwt_text.strip()
    claims = read_enrollment_jwt(text)
    iss = claims["iss"].rstrip("/")
    if claims["em"] != "ott":
        raise InvalidEnrollmentToken(f"not an ott identity token (method {claims['em']!r})")
    if not iss.startswith("https://"):
        raise InvalidEnrollmentToken(f"the token's issuer is not an https URL: {iss!r}")
    with trio.fail_after(timeout_s):
        leaf, ca_pem = await _cacerts_unverified(iss)
        verify_issuer(text, iss, leaf)
        key = generate_key("ec256")
        csr = create_csr(key, claims["sub"]).public_bytes(serialization.Encoding.PEM)
        try:
            async with httpx.AsyncClient(verify=ssl.create_default_context(cadata=ca_pem)) as http:
                resp = await http.post(f"{iss}{CLIENT_PATH}/enroll", params={"method": "ott", "token": claims["jti"]},
                                       content=csr, headers={"Content-Type": "text/plain",
                                                             "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise EnrollmentRefused(f"cannot reach {iss}: {exc}") from exc
    if resp.is_error:
        raise refusal(resp)
    cert = (resp.json().get("data") or {}).get("cert")
    if not isinstance(cert, str) or "BEGIN CERTIFICATE" not in cert:
        raise EnrollmentRefused("the controller's enrollment answer holds no certificate")
    await trio.to_thread.run_sync(write_new, Path(out), identity_file(iss, cert, key, ca_pem))
    return str(claims["sub"])
