"""Fuzz targets of the PKI parsers: enrollment JWTs, CSRs and certificate bundles, built valid and then broken.

The random-input and byte-mutation cases live in tests/unit/pki; these targets add structure-aware
edits (DER elements with consistent or lying lengths, JWT segments and their JSON) and check that a
parsed result is usable: a verified JWT has the claims that were signed, a loaded CSR can be signed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jwt as pyjwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import strategies as st

from ziti_aio.common.errors import InvalidEnrollmentToken, ValidationError
from ziti_aio.pki.bundle import certs_to_pem, load_certs_pem, parse_pkcs7_certs, pkcs7_certs_der
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.csr import create_csr, load_csr, requested_sans
from ziti_aio.pki.enrollment_jwt import read_enrollment_jwt, sign_enrollment_jwt
from ziti_aio.pki.keys import PrivateKey, generate_key, key_to_pem

from .strategies import deeply_nested_json, json_values, mutated_bytes, mutated_der, mutated_text

EXPIRES = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
EXPECTED_WARNINGS = ("PKCS#7 certificates could not be parsed as DER", "Attribute's length must be")
"""UserWarnings cryptography gives about BER bundles and empty name attributes before it copes: not findings."""


@dataclass(frozen=True)
class Materials:
    """A small CA tree and the valid inputs the targets start from (made once per process)."""

    signer: CertAuthority
    server_cert: x509.Certificate
    server_key: PrivateKey
    client_cert: x509.Certificate
    client_key: PrivateKey
    jwt: str
    claims: dict[str, Any]
    csr_der: bytes
    pkcs7_der: bytes

    @property
    def ca_pem(self) -> bytes:
        return certs_to_pem(self.signer.certs)

    @property
    def client_pem(self) -> tuple[bytes, bytes]:
        """The client certificate chain and key, as an identity file holds them."""
        return self.signer.chain_pem(self.client_cert), key_to_pem(self.client_key)


@cache
def materials() -> Materials:
    root = CertAuthority.create_root("Fuzz Root", trust_domain="fuzz.test")
    signer = root.create_intermediate("Fuzz Signer")
    server_cert, server_key = signer.issue_server("ctrl", dns=("localhost",), ips=("127.0.0.1",), key_kind="ec256")
    client_cert, client_key = signer.issue_client("fuzz-identity")
    jwt = sign_enrollment_jwt(key=server_key, cert=server_cert, issuer="https://127.0.0.1:1280", subject="id-1",
                              token="tok-1", method="ott", expires_at=EXPIRES, controllers=["tls:127.0.0.1:6262"])
    claims = read_enrollment_jwt(jwt, verify_with_cert=server_cert)
    csr = create_csr(generate_key(), "fuzz-router", dns=("router.fuzz.test", "10.0.0.1"))
    return Materials(signer, server_cert, server_key, client_cert, client_key, jwt, claims,
                     csr.public_bytes(Encoding.DER), pkcs7_certs_der(signer.certs))


def pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"").decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode()


# --- enrollment JWTs ---------------------------------------------------------------------------

_HEADER_KEYS = ("alg", "typ", "kid", "crit", "b64", "jku", "x5u", "zip")
_CLAIM_KEYS = ("iss", "sub", "jti", "em", "exp", "aud", "ctrls", "nbf", "iat")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@dataclass(frozen=True)
class JwtCase:
    """Token ``text``, and the ``claims`` the server key signed (``None``: not signed by it)."""

    text: str
    claims: dict[str, Any] | None


CLAIM_EDITS = st.dictionaries(st.sampled_from(_CLAIM_KEYS), json_values(max_leaves=4) | st.integers(-(2**80), 2**80))
HEADER_EDITS = st.dictionaries(st.sampled_from(_HEADER_KEYS), json_values(hostile=True))
RAW_SEGMENTS = deeply_nested_json() | json_values(hostile=True).map(lambda v: json.dumps(v).encode())


@st.composite
def jwt_cases(draw: st.DrawFn) -> JwtCase:
    """Our signed enrollment JWT with characters edited, segments rearranged, its header or claims JSON
    changed; or claims edited and signed again with the server key."""
    m = materials()
    token = m.jwt
    kind = draw(st.sampled_from(("text", "segments", "json", "raw_json", "signed")))
    if kind == "text":
        return JwtCase(draw(mutated_text(token)), m.claims)
    if kind == "signed":
        claims = {**m.claims, **draw(CLAIM_EDITS)}
        alg = draw(st.sampled_from(("ES256", "ES384", "RS256", "HS256")))
        try:
            return JwtCase(pyjwt.encode(claims, m.server_key, algorithm=alg), claims)
        except (pyjwt.PyJWTError, TypeError, ValueError):
            return JwtCase(token, m.claims)
    parts = token.split(".")
    if kind == "segments":
        parts = draw(st.permutations(parts)) if draw(st.booleans()) else parts
        parts = draw(st.lists(st.sampled_from([*parts, "", "e30", "bnVsbA"]), min_size=1, max_size=5))
        return JwtCase(".".join(parts), m.claims)
    index = draw(st.integers(0, 1))
    if kind == "json":
        value = _segment_json(parts[index]) | draw(HEADER_EDITS if index == 0 else CLAIM_EDITS)
        parts[index] = _b64url(json.dumps(value).encode())
    else:
        parts[index] = _b64url(draw(RAW_SEGMENTS))
    return JwtCase(".".join(parts), m.claims)


def check_jwt(case: JwtCase) -> None:
    """Only InvalidEnrollmentToken; what is read has the string claims and a finite exp; what verifies
    against the server certificate carries exactly the claims its key signed."""
    m = materials()
    for verify in (None, m.server_cert):
        try:
            claims = read_enrollment_jwt(case.text, verify_with_cert=verify)
        except InvalidEnrollmentToken:
            continue
        assert all(isinstance(claims[name], str) for name in ("iss", "sub", "jti", "em"))
        assert not isinstance(claims["exp"], bool) and math.isfinite(claims["exp"])
        if verify is not None:
            assert claims == case.claims, "a token verified with claims its key did not sign"


# --- CSRs --------------------------------------------------------------------------------------


@st.composite
def csr_cases(draw: st.DrawFn) -> bytes | str:
    """Our CSR with one DER element edited, given as DER, PEM, or PEM with text edits."""
    der = draw(mutated_der(materials().csr_der))
    form = draw(st.sampled_from(("der", "pem", "pem_text")))
    if form == "der":
        return der
    text = pem("CERTIFICATE REQUEST", der).decode()
    return draw(mutated_text(text)) if form == "pem_text" else text


def check_csr(data: bytes | str) -> None:
    """Only ValidationError from loading, and a loaded CSR can be asked for its SANs and signed (or refused)."""
    try:
        csr = load_csr(data)
    except ValidationError:
        return
    requested_sans(csr)
    with contextlib.suppress(ValidationError):
        materials().signer.sign_csr(csr)


# --- certificate bundles -----------------------------------------------------------------------


@dataclass(frozen=True)
class BundleCase:
    """``data`` for :func:`parse_pkcs7_certs` (``pkcs7``) or :func:`load_certs_pem`;
    ``intact``: our own bundle, unchanged."""

    pkcs7: bool
    data: bytes | str
    intact: bool


@st.composite
def bundle_cases(draw: st.DrawFn) -> BundleCase:
    """Our PKCS#7 bundle, maybe edited, as DER, base64 lines or PEM; or our chain as concatenated PEM
    certificates, one of them edited."""
    m = materials()
    if draw(st.booleans()):
        der = draw(st.just(m.pkcs7_der) | mutated_der(m.pkcs7_der))
        form = draw(st.sampled_from(("der", "base64", "pem", "text")))
        if form == "der":
            return BundleCase(True, der, der == m.pkcs7_der)
        if form == "pem":
            return BundleCase(True, pem("PKCS7", der), der == m.pkcs7_der)
        lines = pem("X", der).splitlines()[1:-1]
        data = draw(st.sampled_from((b"\n", b"\r\n", b" "))).join(lines)
        return BundleCase(True, data.decode() if form == "text" else data, der == m.pkcs7_der)
    certs = [c.public_bytes(Encoding.DER) for c in m.signer.certs]
    index = draw(st.integers(0, len(certs) - 1))
    certs[index] = draw(mutated_der(certs[index]) | mutated_bytes(certs[index]))
    data = b"".join(pem("CERTIFICATE", der) for der in certs)
    return BundleCase(False, draw(st.just(data) | mutated_bytes(data, max_ops=2)), False)


def check_bundle(case: BundleCase) -> None:
    """Only ValidationError; a parsed bundle is a non-empty list of certificates; our own bundle comes
    back as the certificates it holds."""
    try:
        certs = (parse_pkcs7_certs if case.pkcs7 else load_certs_pem)(case.data)
    except ValidationError:
        assert not case.intact, "our own bundle was refused"
        return
    assert certs and all(isinstance(c, x509.Certificate) for c in certs)
    if case.intact:
        assert sorted(c.serial_number for c in certs) == sorted(c.serial_number for c in materials().signer.certs)
