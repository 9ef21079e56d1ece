"""``ziti-aio enroll FILE.jwt``: enroll an identity the way libziti 0.29.3 does and write its identity file.

Trust is bootstrapped from the token, not from any CA: ``/.well-known/est/cacerts`` is fetched
over TLS that trusts nothing, and the enrollment JWT must verify with the public key of the
server certificate seen on that very connection. Only then is the fetched CA bundle trusted,
for the enrollment request and, in the identity file, from then on.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ziti_aio.cli.client import (
    REQUEST_TIMEOUT_S,
    CliError,
    envelope,
    fetch_cacerts_unverified,
    reported,
    send,
    trust_context,
)
from ziti_aio.common.errors import InvalidEnrollmentToken
from ziti_aio.pki.bundle import certs_to_pem, parse_pkcs7_certs
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.enrollment_jwt import MAX_JWT_CHARS, read_enrollment_jwt
from ziti_aio.pki.keys import PrivateKey, generate_key

CLIENT_PATH = "/edge/client/v1"


def check_issuer(text: str, iss: str, leaf: x509.Certificate) -> None:
    """Refuse unless the JWT is signed by the key of the server certificate ``iss`` presented, still valid."""
    try:
        read_enrollment_jwt(text, verify_with_cert=leaf)
    except InvalidEnrollmentToken as exc:
        raise CliError(f"refusing to enroll: the token is not signed by the server at {iss} ({exc.message})") from exc
    now = datetime.now(UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise CliError(f"refusing to enroll: the server certificate of {iss} is not valid now")


def identity_file(iss: str, cert_pem: str, key: PrivateKey, ca_pem: str) -> dict[str, Any]:
    """The identity file as libziti 0.29.3 writes it: raw PEM strings, no ``pem:`` prefix."""
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return {"ztAPI": iss, "id": {"cert": cert_pem, "key": key_pem, "ca": ca_pem}}


def _write_new(path: Path, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)


def _enroll_ott(http: httpx.Client, iss: str, claims: dict[str, Any], ca_pem: str, out: Path) -> None:
    key = generate_key("ec256")
    csr = create_csr(key, claims["sub"]).public_bytes(serialization.Encoding.PEM)
    resp = send(http, "POST", f"{iss}{CLIENT_PATH}/enroll", params={"method": "ott", "token": claims["jti"]},
                content=csr, headers={"Content-Type": "text/plain", "Accept": "application/json"})
    cert = (envelope(resp).get("data") or {}).get("cert")
    if not isinstance(cert, str) or "BEGIN CERTIFICATE" not in cert:
        raise CliError("the controller's enrollment answer holds no certificate")
    _write_new(out, identity_file(iss, cert, key, ca_pem))
    typer.echo(f"enrolled identity {claims['sub']}; identity file written to {out}")


def _enroll_updb(http: httpx.Client, iss: str, claims: dict[str, Any], password: str | None) -> None:
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    resp = send(http, "POST", f"{iss}{CLIENT_PATH}/enroll/updb", params={"token": claims["jti"]},
                json={"password": password})
    envelope(resp)
    typer.echo(f"enrolled identity {claims['sub']}: its password is set")


@reported
def enroll(
    jwt_file: Annotated[Path, typer.Argument(metavar="FILE.jwt", help="The enrollment token.")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Identity file (default: FILE.json).")] = None,
    password: Annotated[str | None, typer.Option("-p", "--password", help="Password for updb tokens.")] = None,
    remove: Annotated[bool, typer.Option("--rm", help="Delete the JWT file after enrolling.")] = False,
) -> None:
    """Enroll an identity from its JWT (ott: write an identity file; updb: set its password)."""
    if jwt_file.stat().st_size > MAX_JWT_CHARS:
        raise CliError(f"{jwt_file} is too large to be an enrollment token")
    text = jwt_file.read_text().strip()
    claims = read_enrollment_jwt(text)
    method, iss = claims["em"], claims["iss"].rstrip("/")
    if method not in ("ott", "updb"):
        raise CliError(f"enrollment method {method!r} is not supported here; ziti-aio enroll handles ott and updb")
    if not iss.startswith("https://"):
        raise CliError(f"the token's issuer is not an https URL: {iss!r}")
    target = out or jwt_file.with_suffix(".json")
    if method == "ott" and target.exists():
        raise CliError(f"{target} already exists; remove it or choose another file with -o")
    leaf, body = fetch_cacerts_unverified(iss)
    check_issuer(text, iss, leaf)
    ca_pem = certs_to_pem(parse_pkcs7_certs(body)).decode()
    with httpx.Client(verify=trust_context(ca_pem), timeout=REQUEST_TIMEOUT_S) as http:
        if method == "ott":
            _enroll_ott(http, iss, claims, ca_pem, target)
        else:
            _enroll_updb(http, iss, claims, password)
    if remove:
        jwt_file.unlink()
