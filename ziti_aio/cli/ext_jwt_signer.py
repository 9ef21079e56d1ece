"""The options of ``create ext-jwt-signer`` and ``update ext-jwt-signer``, as ``ziti edge`` spells them, and the
request body they make (docs/external-jwt.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ziti_aio.cli.client import CliError
from ziti_aio.cli.options import Csv, split_csv

MAX_CERT_PEM_BYTES = 64 * 1024
TARGET_TOKENS = ("ACCESS", "ID")

JwksEndpoint = Annotated[str | None, typer.Option(
    "-u", "--jwks-endpoint", help="The signer's JWKS URL (not with -p or -f).")]
CertPem = Annotated[str | None, typer.Option("-p", "--cert-pem", help="The certificate PEM (not with -u, -f).")]
CertFile = Annotated[Path | None, typer.Option("-f", "--cert-file", help="A file with the signer's certificate PEM.")]
Audience = Annotated[str | None, typer.Option("-a", "--audience", help="The audience its tokens must carry.")]
ClaimsProperty = Annotated[str | None, typer.Option(
    "-c", "--claims-property", help="The claim (or JSON pointer) naming the identity (default sub).")]
ExternalAuthUrl = Annotated[str | None, typer.Option(
    "-y", "--external-auth-url", help="Where users get a token (shown on login pages).")]
Kid = Annotated[str | None, typer.Option("-k", "--kid", help="The key id of a -p/-f certificate.")]
ClientId = Annotated[str | None, typer.Option("--client-id", help="The OIDC client id SDKs use.")]
Scopes = Annotated[Csv, typer.Option("--scopes", help="OIDC scopes SDKs ask for: a,b (repeatable).")]
TargetToken = Annotated[str | None, typer.Option("--target-token", help="The token SDKs present: ACCESS or ID.")]
EnrollToCert = Annotated[bool | None, typer.Option(
    "--enroll-to-cert/--no-enroll-to-cert", help="Unknown subjects may enroll to a certificate.")]
EnrollToToken = Annotated[bool | None, typer.Option(
    "--enroll-to-token/--no-enroll-to-token", help="Unknown subjects may enroll to token-only logins.")]
EnrollName = Annotated[str | None, typer.Option(
    "--enroll-name-claims-selector", help="The claim naming enrolling identities (default /sub).")]
EnrollAttributes = Annotated[str | None, typer.Option(
    "--enroll-attr-claims-selector", help="The claim holding enrolling identities' role attributes.")]
EnrollAuthPolicy = Annotated[str | None, typer.Option(
    "--enroll-auth-policy", help="The auth policy id of enrolling identities.")]


def key_source(jwks_endpoint: str | None, cert_pem: str | None, cert_file: Path | None) -> dict[str, Any]:
    """``jwksEndpoint`` or ``certPem``: at most one of -u, -p and -f."""
    given = [x for x in (jwks_endpoint, cert_pem, cert_file) if x is not None]
    if len(given) > 1:
        raise CliError("give only one of -u/--jwks-endpoint, -p/--cert-pem and -f/--cert-file")
    if cert_file is not None:
        if cert_file.stat().st_size > MAX_CERT_PEM_BYTES:
            raise CliError(f"{cert_file} is larger than {MAX_CERT_PEM_BYTES} bytes")
        cert_pem = cert_file.read_text()
    if jwks_endpoint is not None:
        return {"jwksEndpoint": jwks_endpoint, "certPem": None}
    if cert_pem is not None:
        return {"certPem": cert_pem, "jwksEndpoint": None}
    return {}


def signer_fields(*, audience: str | None, claims_property: str | None, external_auth_url: str | None,
                  kid: str | None, client_id: str | None, scopes: Csv, target_token: str | None,
                  enroll_to_cert: bool | None, enroll_to_token: bool | None, enroll_name: str | None,
                  enroll_attributes: str | None, enroll_auth_policy: str | None) -> dict[str, Any]:
    """The given options as API fields (options not given are left out)."""
    if target_token is not None and target_token.upper() not in TARGET_TOKENS:
        raise CliError("--target-token must be ACCESS or ID")
    fields = {
        "audience": audience, "claimsProperty": claims_property, "externalAuthUrl": external_auth_url, "kid": kid,
        "clientId": client_id, "scopes": split_csv(scopes) if scopes is not None else None,
        "targetToken": target_token.upper() if target_token else None, "enrollToCertEnabled": enroll_to_cert,
        "enrollToTokenEnabled": enroll_to_token, "enrollNameClaimsSelector": enroll_name,
        "enrollAttributeClaimsSelector": enroll_attributes, "enrollAuthPolicyId": enroll_auth_policy,
    }
    return {k: v for k, v in fields.items() if v is not None}
