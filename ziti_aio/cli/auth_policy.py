"""``ziti-aio create auth-policy NAME`` and ``ziti-aio update auth-policy ID-OR-NAME``, with ziti's flags
(``--primary-updb-max-attempts 5``, ``--secondary-req-totp``; a flag also takes cobra's ``=true``/``=false``).

A flag not given leaves that part as it is: on create, as in the default policy (docs/mfa.md §3).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ziti_aio.cli.client import CliError, open_client
from ziti_aio.cli.help_format import ReadableCommand
from ziti_aio.cli.options import Csv, NewName, split_csv
from ziti_aio.cli.request_options import current

MAX_MINUTES = 100 * 365 * 24 * 60

_BOOL_FLAGS = ("primary-cert-allowed", "primary-cert-expired-allowed", "primary-ext-jwt-allowed",
               "primary-updb-allowed", "primary-updb-req-mixed-case", "primary-updb-req-numbers",
               "primary-updb-req-special", "secondary-req-totp")


def _flag(name: str, what: str) -> Any:
    return typer.Option(f"--{name}/--no-{name}", help=what, show_default=False)


CertAllowed = Annotated[bool | None, _flag("primary-cert-allowed", "Allow certificate logins.")]
CertExpired = Annotated[bool | None, _flag("primary-cert-expired-allowed", "Accept expired certificates.")]
ExtJwtAllowed = Annotated[bool | None, _flag("primary-ext-jwt-allowed", "Allow external JWT logins.")]
ExtJwtSigners = Annotated[Csv, typer.Option("--primary-ext-jwt-allowed-signers",
                                            help="External JWT signer ids allowed (comma separated).")]
UpdbAllowed = Annotated[bool | None, _flag("primary-updb-allowed", "Allow username/password logins.")]
LockoutMinutes = Annotated[int | None, typer.Option(
    "--primary-updb-lockout-min", min=0, max=MAX_MINUTES, help="Minutes a locked-out identity stays disabled "
                                                              "(0: until enabled).")]
MaxAttempts = Annotated[int | None, typer.Option("--primary-updb-max-attempts", min=0, max=2**31 - 1,
                                                 help="Wrong passwords before lockout (0: unlimited).")]
MinLength = Annotated[int | None, typer.Option("--primary-updb-min-length", min=5, max=1024,
                                               help="Shortest password accepted.")]
MixedCase = Annotated[bool | None, _flag("primary-updb-req-mixed-case", "Passwords need upper and lower case.")]
Numbers = Annotated[bool | None, _flag("primary-updb-req-numbers", "Passwords need a digit.")]
Special = Annotated[bool | None, _flag("primary-updb-req-special", "Passwords need a special character.")]
ReqExtJwtSigner = Annotated[str | None, typer.Option("--secondary-req-ext-jwt-signer",
                                                     help="External JWT signer id required as a second factor.")]
ReqTotp = Annotated[bool | None, _flag("secondary-req-totp", "Require a TOTP code (MFA) after the login.")]


class CobraBoolCommand(ReadableCommand):
    """Takes ``--flag=true`` / ``--flag=false`` for the policy's boolean flags, as ziti (cobra) does."""

    # ctx is typer's private copy of click's Context (typer._click), which typer does not export: Any.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        spelled = {f"--{f}={v}": f"--{'' if v == 'true' else 'no-'}{f}" for f in _BOOL_FLAGS for v in ("true", "false")}
        return super().parse_args(ctx, [spelled.get(a.lower(), a) for a in args])


def _section(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def policy_body(*, cert_allowed: bool | None, cert_expired: bool | None, ext_jwt_allowed: bool | None,
                ext_jwt_signers: Csv, updb_allowed: bool | None, lockout_minutes: int | None,
                max_attempts: int | None, min_length: int | None, mixed_case: bool | None, numbers: bool | None,
                special: bool | None, req_ext_jwt_signer: str | None, req_totp: bool | None) -> dict[str, Any]:
    """``primary`` and ``secondary`` with the parts the flags give."""
    primary = {
        "cert": _section(allowed=cert_allowed, allowExpiredCerts=cert_expired),
        "extJwt": _section(allowed=ext_jwt_allowed,
                           allowedSigners=None if ext_jwt_signers is None else split_csv(ext_jwt_signers)),
        "updb": _section(allowed=updb_allowed, lockoutDurationMinutes=lockout_minutes, maxAttempts=max_attempts,
                         minPasswordLength=min_length, requireMixedCase=mixed_case, requireNumberChar=numbers,
                         requireSpecialChar=special),
    }
    return {"primary": {k: v for k, v in primary.items() if v},
            "secondary": _section(requireExtJwtSigner=req_ext_jwt_signer, requireTotp=req_totp)}


def create_auth_policy(
    name: Annotated[str, typer.Argument(help="The policy's name.")],
    cert_allowed: CertAllowed = None, cert_expired: CertExpired = None, ext_jwt_allowed: ExtJwtAllowed = None,
    ext_jwt_signers: ExtJwtSigners = None, updb_allowed: UpdbAllowed = None, lockout_minutes: LockoutMinutes = None,
    max_attempts: MaxAttempts = None, min_length: MinLength = None, mixed_case: MixedCase = None,
    numbers: Numbers = None, special: Special = None, req_ext_jwt_signer: ReqExtJwtSigner = None,
    req_totp: ReqTotp = None,
) -> None:
    """Create an auth policy.

    It says which logins its identities may use, the password rules, the lockout and whether MFA is required.
    Assign it with ziti-aio create|update identity ... --auth-policy NAME.

    \b
    Examples:
      ziti-aio create auth-policy mfa-users --secondary-req-totp
      ziti-aio create auth-policy strict --no-primary-cert-allowed \\
          --primary-updb-max-attempts 5 --primary-updb-lockout-min 15 \\
          --primary-updb-min-length 12 --primary-updb-req-special
    """
    body = {"name": name, **policy_body(
        cert_allowed=cert_allowed, cert_expired=cert_expired, ext_jwt_allowed=ext_jwt_allowed,
        ext_jwt_signers=ext_jwt_signers, updb_allowed=updb_allowed, lockout_minutes=lockout_minutes,
        max_attempts=max_attempts, min_length=min_length, mixed_case=mixed_case, numbers=numbers, special=special,
        req_ext_jwt_signer=req_ext_jwt_signer, req_totp=req_totp)}
    with open_client() as client:
        ident = client.create("auth-policies", body)
        if not current().output_json:
            typer.echo(f"New auth policy {name} created with id: {ident}")


def update_auth_policy(
    id_or_name: Annotated[str, typer.Argument(help="The policy's id or name.")],
    name: NewName = None,
    cert_allowed: CertAllowed = None, cert_expired: CertExpired = None, ext_jwt_allowed: ExtJwtAllowed = None,
    ext_jwt_signers: ExtJwtSigners = None, updb_allowed: UpdbAllowed = None, lockout_minutes: LockoutMinutes = None,
    max_attempts: MaxAttempts = None, min_length: MinLength = None, mixed_case: MixedCase = None,
    numbers: Numbers = None, special: Special = None, req_ext_jwt_signer: ReqExtJwtSigner = None,
    req_totp: ReqTotp = None,
) -> None:
    """Change an auth policy.

    Only the parts given change.

    \b
    Examples:
      ziti-aio update auth-policy Default --secondary-req-totp
      ziti-aio update auth-policy strict --primary-cert-allowed=true
    """
    body = policy_body(
        cert_allowed=cert_allowed, cert_expired=cert_expired, ext_jwt_allowed=ext_jwt_allowed,
        ext_jwt_signers=ext_jwt_signers, updb_allowed=updb_allowed, lockout_minutes=lockout_minutes,
        max_attempts=max_attempts, min_length=min_length, mixed_case=mixed_case, numbers=numbers, special=special,
        req_ext_jwt_signer=req_ext_jwt_signer, req_totp=req_totp)
    body = {k: v for k, v in {**body, "name": name}.items() if v}
    if not body and current().tags is None:
        raise CliError("nothing to update: give at least one option")
    with open_client() as client:
        policy = client.find("auth-policies", id_or_name, label="auth policy")
        client.patch("auth-policies", policy["id"], body)
        if not current().output_json:
            typer.echo(f"updated auth policy {policy['name']}")
