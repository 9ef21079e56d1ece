"""``ziti-aio create mfa`` and ``ziti-aio delete mfa [IDENTITY]``: TOTP MFA of the logged-in identity, and an
admin's removal of another identity's (docs/mfa.md §5).

``create mfa`` starts the enrollment, prints the ``otpauth://`` URI (for an authenticator app) and the
recovery codes, and completes it with a code from ``--code`` or asked for.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ziti_aio.cli.client import open_client
from ziti_aio.cli.request_options import current
from ziti_aio.sdk.management import ManagementError

Code = Annotated[str | None, typer.Option("--code", help="A current TOTP code (asked for if missing).")]


def _code(given: str | None) -> str:
    return given if given is not None else str(typer.prompt("TOTP code from the authenticator app"))


def create_mfa(code: Code = None) -> None:
    """Enroll the logged-in identity in TOTP MFA.

    Prints the otpauth:// URI to add to an authenticator app and the recovery codes (keep them safe),
    then verifies a code from the app. Later logins ask for a code (ziti-aio login --totp).

    \b
    Examples:
      ziti-aio create mfa
      ziti-aio create mfa --code 123456
    """
    with open_client() as client:
        data = client.call("POST", "/current-identity/mfa")["data"]
        if not current().output_json:
            typer.echo(f"add this to an authenticator app: {data['provisioningUrl']}")
            typer.echo("recovery codes (each works once instead of a TOTP code):")
            typer.echo("  " + " ".join(data["recoveryCodes"]))
        try:
            client.call("POST", "/current-identity/mfa/verify", json={"code": _code(code)})
        except ManagementError:
            # An enrollment left unverified would block the next attempt (MFA_EXISTS): start over next time.
            client.call("DELETE", "/current-identity/mfa", json={"code": ""})
            raise
        if not current().output_json:
            typer.echo("MFA enrolled: logins now need a TOTP code")


def delete_mfa(
    identity: Annotated[str | None, typer.Argument(
        help="An identity's id or name, to remove its MFA as an admin (default: your own, which needs a code).")
    ] = None,
    code: Code = None,
) -> None:
    """Remove TOTP MFA.

    Your own (with a current code), or, as an admin, another identity's.

    \b
    Examples:
      ziti-aio delete mfa --code 123456
      ziti-aio delete mfa alice
    """
    with open_client() as client:
        if identity is None:
            client.call("DELETE", "/current-identity/mfa", json={"code": _code(code)})
            label = "your identity"
        else:
            entity = client.find("identities", identity, label="identity")
            client.call("DELETE", f"/identities/{entity['id']}/mfa")
            label = f"identity {entity['name']}"
        if not current().output_json:
            typer.echo(f"removed the MFA of {label}")
