"""``ziti-aio enroll FILE.jwt``: enroll an identity the way libziti 0.29.3 does and write its identity file.

The ott flow (trust bootstrapped from the token) is :func:`ziti_aio.sdk.enroll.enroll_identity`;
updb tokens are checked the same way before the password is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import trio
import typer

from ziti_aio.cli.client import (
    REQUEST_TIMEOUT_S,
    CliError,
    envelope,
    fetch_cacerts_unverified,
    reported,
    send,
    trust_context,
)
from ziti_aio.pki.bundle import certs_to_pem, parse_pkcs7_certs
from ziti_aio.pki.enrollment_jwt import MAX_JWT_CHARS, read_enrollment_jwt
from ziti_aio.sdk.enroll import EnrollmentRefused, enroll_identity, verify_issuer

CLIENT_PATH = "/edge/client/v1"


def _enroll_updb(text: str, iss: str, claims: dict[str, Any], password: str | None) -> None:
    leaf, body = fetch_cacerts_unverified(iss)
    verify_issuer(text, iss, leaf)
    ca_pem = certs_to_pem(parse_pkcs7_certs(body)).decode()
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    with httpx.Client(verify=trust_context(ca_pem), timeout=REQUEST_TIMEOUT_S) as http:
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
    try:
        if method == "ott":
            if target.exists():
                raise CliError(f"{target} already exists; remove it or choose another file with -o")
            name = trio.run(enroll_identity, text, target)
            typer.echo(f"enrolled identity {name}; identity file written to {target}")
        else:
            _enroll_updb(text, iss, claims, password)
    except EnrollmentRefused as exc:
        raise CliError(exc.message) from exc
    if remove:
        jwt_file.unlink()
