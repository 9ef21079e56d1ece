"""``ziti-aio enroll FILE.jwt``: enroll an identity the way libziti 0.29.3 does and write its identity file.

Both methods bootstrap trust from the token (:mod:`ziti_aio.sdk.bootstrap`) before anything is sent:
``ott`` writes the identity file, ``updb`` sets the password (prompted only once the issuer is trusted).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import trio
import typer

from ziti_aio.cli.client import CliError, reported
from ziti_aio.common.errors import EnrollmentRefused
from ziti_aio.pki.enrollment_jwt import MAX_JWT_CHARS, read_enrollment_jwt
from ziti_aio.sdk.bootstrap import bootstrap_trust
from ziti_aio.sdk.enroll import enroll_identity, enroll_updb


def _enroll_updb(text: str, password: str | None) -> None:
    trusted = trio.run(partial(bootstrap_trust, text, methods=("updb",)))
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    trio.run(enroll_updb, trusted, password)
    typer.echo(f"enrolled identity {trusted.claims['sub']}: its password is set")


@reported
def enroll(
    jwt_file: Annotated[Path, typer.Argument(metavar="FILE.jwt", help="The enrollment token.")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Identity file (default: FILE.json).")] = None,
    password: Annotated[str | None, typer.Option("-p", "--password", help="Password for updb tokens.")] = None,
    remove: Annotated[bool, typer.Option("--rm", help="Delete the JWT file after enrolling.")] = False,
) -> None:
    """Enroll an identity from its JWT.

    ott tokens: write the identity file (FILE.json unless -o); updb tokens: set its password.

    \b
    Examples:
      ziti-aio enroll alice.jwt
      ziti-aio enroll alice.jwt -o ~/alice.json --rm
    """
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
            _enroll_updb(text, password)
    except EnrollmentRefused as exc:
        raise CliError(exc.message) from exc
    if remove:
        jwt_file.unlink()
