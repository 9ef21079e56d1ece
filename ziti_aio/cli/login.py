"""``ziti-aio login [HOST[:PORT]] -u USER -p PASS [-y] [--totp CODE]``, ``ziti-aio login HOST --ext-jwt FILE``,
``ziti-aio login HOST --ext-jwt-signer NAME`` (the provider's login in a browser: idp_login.py) and
``ziti-aio login forget``.

Trust works as ``ziti edge login``: the server certificate must verify against the CA saved
for that address, the ``--ca`` file, or the system roots; ``-y`` instead fetches the
controller's ``/.well-known/est/cacerts`` unverified, saves it and trusts it from then on. An
identity with MFA is asked for its TOTP code (``--totp``, or a prompt on a terminal: docs/mfa.md §5).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import trio
import typer

from ziti_aio.cli.client import CliError, normalize_url, overlay_client, reported, trust_context
from ziti_aio.cli.config_file import SavedLogin, config_path, forget_login, load_login, save_login
from ziti_aio.cli.idp_login import browser_token
from ziti_aio.cli.oidc_session import password_login
from ziti_aio.common import api_paths
from ziti_aio.common.errors import EnrollmentRefused
from ziti_aio.pki.bundle import MAX_BUNDLE_BYTES, certs_to_pem, load_certs_pem, parse_pkcs7_certs
from ziti_aio.sdk.bootstrap import fetch_cacerts
from ziti_aio.sdk.management import REQUEST_TIMEOUT_S, ManagementClient, ManagementError

FORGET = "forget"
MAX_JWT_FILE_BYTES = 16 * 1024
DEFAULT_CONTROLLER = "localhost:1280"


def fetch_ca_bundle(url: str) -> str:
    """The controller's CA bundle as PEM, from ``/.well-known/est/cacerts`` over TLS that trusts nothing."""
    try:
        _, body = trio.run(fetch_cacerts, url)
    except EnrollmentRefused as exc:
        raise CliError(exc.message) from exc
    return certs_to_pem(parse_pkcs7_certs(body)).decode()


def _ca_file(path: Path) -> str:
    if path.stat().st_size > MAX_BUNDLE_BYTES:
        raise CliError(f"{path} is larger than {MAX_BUNDLE_BYTES} bytes")
    return certs_to_pem(load_certs_pem(path.read_bytes())).decode()


def _totp_code(given: str | None) -> str:
    """The TOTP code the controller asked for: ``--totp``, else asked for on a terminal."""
    if given is not None:
        return given
    if sys.stdin.isatty():
        return str(typer.prompt("TOTP code"))
    raise CliError("the login needs a TOTP code (MFA): give --totp CODE")


def _authenticate(url: str, ca_pem: str | None, username: str, password: str, *, legacy: bool,
                  totp: str | None = None, ext_jwt: str | None = None) -> SavedLogin:
    """Log in by OIDC when the controller offers it (unless ``legacy``, a TOTP code or an external JWT is
    given, or the identity needs TOTP: those go through ``POST /authenticate``, docs/mfa.md §5)."""
    verify = trust_context(ca_pem)
    tokens = None
    if not legacy and totp is None and ext_jwt is None:
        try:
            tokens = password_login(url, verify, username, password, REQUEST_TIMEOUT_S)
        except CliError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise CliError(f"{exc}; trust the controller's CA with -y or --ca FILE") from exc
            raise
    if tokens is not None:
        return SavedLogin(url=url, token=tokens.access_token, ca=ca_pem or "", refresh_token=tokens.refresh_token,
                          token_endpoint=tokens.token_endpoint)
    with ManagementClient.open(url, verify=verify, timeout_s=REQUEST_TIMEOUT_S) as client:
        try:
            if ext_jwt is not None:
                return SavedLogin(url=url, token=client.authenticate_ext_jwt(ext_jwt), ca=ca_pem or "")
            token = client.authenticate(username, password, lambda: _totp_code(totp))
            return SavedLogin(url=url, token=token, ca=ca_pem or "")
        except ManagementError as exc:
            if exc.status is None and "CERTIFICATE_VERIFY_FAILED" in exc.message:
                raise CliError(f"{exc.message}; trust the controller's CA with -y or --ca FILE") from exc
            raise


def _saved_or_asked_host() -> str:
    """As ``ziti login`` without a host: the saved login's controller, else asked for (default localhost:1280)."""
    saved = load_login()
    if saved is not None:
        typer.echo(f"using controller {saved.url} from {config_path()}")
        return saved.url
    return str(typer.prompt("Controller host[:port]", default=DEFAULT_CONTROLLER))


def _overlay_login(identity: Path, service: str) -> None:
    """Log in over the overlay: the identity's certificate login on the client API gives the API session the
    management requests carry; the check is that this session may read the management API (an admin)."""
    if not identity.is_file():
        raise CliError(f"no identity file at {identity}")
    saved = SavedLogin(url=f"ziti://{service}", token="", ca="", identity=str(identity.resolve()), service=service)
    client = overlay_client(saved, REQUEST_TIMEOUT_S)
    with client:
        me = (client.call("GET", "/current-identity").get("data") or {})
        token = getattr(client.http, "token", "")
    if not me.get("isAdmin"):
        raise CliError(f"identity {me.get('name', identity)!r} is not an admin: it may dial {service} but cannot "
                       "use the management API")
    path = save_login(SavedLogin(url=saved.url, token=token, ca="", identity=saved.identity, service=service))
    typer.echo(f"logged in to {saved.url} over the overlay as {me.get('name')} (saved in {path})")


@reported
def login(
    host: Annotated[str | None, typer.Argument(
        metavar="HOST[:PORT]", help="Controller address, e.g. localhost:1280 or https://ctrl:1280 (default: the "
                                    "saved login's, else asked for); 'forget' removes the saved login.")] = None,
    username: Annotated[str | None, typer.Option("-u", "--username", help="Admin username.")] = None,
    password: Annotated[str | None, typer.Option("-p", "--password", help="Password (prompted if missing).")] = None,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Fetch and trust the controller's CA bundle.")] = False,
    ca: Annotated[Path | None, typer.Option("--ca", help="PEM file of the CA(s) to trust.")] = None,
    totp: Annotated[str | None, typer.Option("--totp", help="TOTP code, for an identity with MFA (prompted on "
                                                           "a terminal if needed and missing).")] = None,
    ext_jwt: Annotated[Path | None, typer.Option(
        "--ext-jwt", help="Log in with the external JWT in this file (an external JWT signer's token).")] = None,
    ext_jwt_signer: Annotated[str | None, typer.Option(
        "--ext-jwt-signer", help="Log in at this external JWT signer's identity provider in a browser "
                                 "(authorization code with PKCE).")] = None,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="With --ext-jwt-signer: print the login URL instead of opening a browser.")] = False,
    idp_ca: Annotated[Path | None, typer.Option(
        "--idp-ca", help="With --ext-jwt-signer: PEM file of the CA(s) the identity provider's TLS is trusted "
                         "with (default: the system's).")] = None,
    callback_port: Annotated[int, typer.Option(
        "--callback-port", min=0, max=65535, help="With --ext-jwt-signer: the loopback port of the login "
                                                  "redirect (0: any free port).")] = 0,
    legacy: Annotated[bool, typer.Option("--legacy", help="Log in with POST /authenticate even if the "
                                                          "controller offers OIDC.")] = False,
    network_identity: Annotated[Path | None, typer.Option(
        "--network-identity", help="Reach a dark management API over the overlay with this admin identity file.")
    ] = None,
    service: Annotated[str, typer.Option(
        "--service", help="The management service to dial with --network-identity.")] = api_paths.MANAGEMENT_SERVICE,
) -> None:
    """Log in to a controller.

    The session is saved for later commands. Without a host: the saved login's controller, else asked
    for (default localhost:1280). A controller that offers OIDC is logged in to by OIDC (its access
    token is refreshed before it runs out); --legacy forces the older API-session login.

    \b
    Examples:
      ziti-aio login localhost:1280 -u admin -y
      ziti-aio login https://ctrl.example.com:1280 -u admin --ca ca.pem
      ziti-aio login localhost:1280 -u alice --totp 123456
      ziti-aio login localhost:1280 --ext-jwt token.jwt -y
      ziti-aio login localhost:1280 --ext-jwt-signer corp --no-browser
      ziti-aio login --network-identity admin.json
      ziti-aio login forget
    """
    if network_identity is not None:
        _overlay_login(network_identity, service)
        return
    if host == FORGET:
        typer.echo("removed the saved login" if forget_login() else "there was no saved login")
        return
    url = normalize_url(host if host is not None else _saved_or_asked_host())
    if ca is not None:
        ca_pem: str | None = _ca_file(ca)
    elif yes:
        ca_pem = fetch_ca_bundle(url)
        typer.echo(f"trusting the CA bundle of {url} ({ca_pem.count('BEGIN CERTIFICATE')} certificates)")
    else:
        saved = load_login()
        ca_pem = saved.ca if saved is not None and saved.url == url and saved.ca else None
    if ext_jwt is not None or ext_jwt_signer is not None:
        if username is not None or password is not None or (ext_jwt is not None and ext_jwt_signer is not None):
            raise CliError("--ext-jwt and --ext-jwt-signer log in without -u/-p, and only one of them at a time")
        if ext_jwt is not None:
            token, who = _read_jwt(ext_jwt), f"the subject of {ext_jwt}"
        else:
            token = browser_token(url, trust_context(ca_pem), trust_context(_ca_file(idp_ca) if idp_ca else None),
                                  str(ext_jwt_signer), open_browser=not no_browser, port=callback_port,
                                  timeout_s=REQUEST_TIMEOUT_S)
            who = f"the identity provider of {ext_jwt_signer}"
        saved_login = _authenticate(url, ca_pem, "", "", legacy=True, ext_jwt=token)
    else:
        if username is None:
            username = typer.prompt("Username")
        if password is None:
            password = typer.prompt("Password", hide_input=True)
        saved_login = _authenticate(url, ca_pem, username, password, legacy=legacy, totp=totp)
        who = username
    path = save_login(saved_login)
    typer.echo(f"logged in to {url} as {who} (saved in {path})")


def _read_jwt(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_JWT_FILE_BYTES:
            raise CliError(f"{path} is larger than {MAX_JWT_FILE_BYTES} bytes")
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    if text.count(".") != 2:
        raise CliError(f"{path} does not hold a JWT")
    return text
