"""``ziti-aio login HOST --ext-jwt-signer NAME``: a token from the signer's identity provider by the
authorization code flow with PKCE, through the browser and a loopback redirect (docs/external-jwt.md §8).

The signer comes from the client API's public ``/external-jwt-signers`` list (its ``clientId``,
``scopes``, ``targetToken`` and ``openIdConfigurationUrl``); authlib's RFC 6749/7636 helpers make the
authorization URL (state, S256 challenge) and the token request that exchanges the code with its verifier.
(Not authlib's httpx client: it is deprecated in favour of httpx2, and the CLI speaks httpx.)
"""

from __future__ import annotations

import secrets
import ssl
import threading
import webbrowser
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import typer
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ziti_aio.cli.client import CliError
from ziti_aio.common import api_paths

CALLBACK_PATH = "/auth/callback"
"""The loopback redirect path, as OpenZiti's SDKs register it with a provider."""
CALLBACK_TIMEOUT_S = 300.0
MAX_SIGNERS = 500


@dataclass
class _Callback:
    """The one redirect the loopback listener waits for."""

    params: dict[str, str] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)


def _listener(port: int, callback: _Callback) -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != CALLBACK_PATH or callback.arrived.is_set():
                self.send_error(404)
                return
            callback.params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            page = b"<html><body>ziti-aio: you may close this window.</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            callback.arrived.set()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the query holds the code."""

    try:
        return HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port} for the login redirect: {exc}") from exc


def _signer(http: httpx.Client, url: str, name: str) -> dict[str, Any]:
    resp = http.get(url + api_paths.CLIENT + "/external-jwt-signers", params={"limit": MAX_SIGNERS})
    if resp.status_code != 200:
        raise CliError(f"listing the external JWT signers of {url}: HTTP {resp.status_code}")
    signers = resp.json().get("data") or []
    found = next((s for s in signers if s.get("name") == name), None)
    if found is None:
        known = ", ".join(sorted(str(s.get("name")) for s in signers)) or "none"
        raise CliError(f"the controller has no external JWT signer named {name!r} (known: {known})")
    if not found.get("clientId"):
        raise CliError(f"the external JWT signer {name!r} has no client id: it cannot be used for a browser login")
    return dict(found)


def _endpoints(http: httpx.Client, signer: dict[str, Any]) -> tuple[str, str]:
    config_url = signer.get("openIdConfigurationUrl") or \
        str(signer.get("externalAuthUrl") or "").rstrip("/") + "/.well-known/openid-configuration"
    try:
        resp = http.get(config_url)
        resp.raise_for_status()
        config = resp.json()
        return str(config["authorization_endpoint"]), str(config["token_endpoint"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        hint = "; trust the provider's CA with --idp-ca FILE" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else ""
        raise CliError(f"reading the identity provider's configuration at {config_url}: {exc}{hint}") from exc


def browser_token(url: str, verify: ssl.SSLContext, idp_verify: ssl.SSLContext, name: str, *,
                  open_browser: bool, port: int, timeout_s: float) -> str:
    """The token signer ``name`` of the controller at ``url`` accepts, from its identity provider."""
    with httpx.Client(verify=verify, timeout=timeout_s) as http:
        try:
            signer = _signer(http, url, name)
        except (httpx.HTTPError, ValueError) as exc:
            hint = "; trust the controller's CA with -y or --ca FILE" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else ""
            raise CliError(f"listing the external JWT signers of {url}: {exc}{hint}") from exc
    with httpx.Client(verify=idp_verify, timeout=timeout_s) as idp_http:
        authorize_url, token_url = _endpoints(idp_http, signer)
    callback = _Callback()
    server = _listener(port, callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
        state, verifier = generate_token(32), generate_token(64)
        login_url = prepare_grant_uri(
            authorize_url, signer["clientId"], "code", redirect_uri=redirect_uri, state=state,
            scope=" ".join(signer.get("scopes") or ["openid"]), code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256")
        if not open_browser or not webbrowser.open(login_url):
            typer.echo(f"open this URL in a browser to log in:\n{login_url}")
        if not callback.arrived.wait(CALLBACK_TIMEOUT_S):
            raise CliError(f"no login came back from the identity provider within {CALLBACK_TIMEOUT_S:.0f} s")
    finally:
        server.shutdown()
        server.server_close()
    code = _code(callback.params, state)
    body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri,
                                 client_id=signer["clientId"], code_verifier=verifier)
    with httpx.Client(verify=idp_verify, timeout=timeout_s) as idp_http:
        try:
            resp = idp_http.post(token_url, content=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            answer = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise CliError(f"exchanging the code at {token_url}: {exc}") from exc
    if resp.status_code != 200 or not isinstance(answer, dict):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise CliError(f"the identity provider's token endpoint refused the code: HTTP {resp.status_code}"
                       + (f" {error}" if error else ""))
    wanted = "id_token" if signer.get("targetToken") == "ID" else "access_token"
    if not answer.get(wanted):
        raise CliError(f"the identity provider's answer carries no {wanted} (the signer's targetToken)")
    return str(answer[wanted])


def _code(params: dict[str, str], state: str) -> str:
    """The authorization code of the redirect, if it carries this login's state and no error."""
    if not secrets.compare_digest(params.get("state", ""), state):
        raise CliError("the identity provider's answer does not carry this login's state: refused")
    if "error" in params:
        detail = params.get("error_description")
        raise CliError(f"the identity provider refused the login: {params['error']}"
                       + (f" ({detail})" if detail else ""))
    if not params.get("code"):
        raise CliError("the identity provider's answer carries no authorization code")
    return params["code"]
