"""The CLI's OIDC login (docs/oidc.md §6): by password through the controller's ``/oidc`` provider when
its ``/version`` offers it, and the refresh of a saved login's access token before it runs out."""

from __future__ import annotations

import ssl
from dataclasses import replace

import httpx

from ziti_aio.cli.client import CliError
from ziti_aio.cli.config_file import SavedLogin, save_login
from ziti_aio.common import api_paths
from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk.oidc import (
    OidcTokens,
    TotpRequired,
    discovery_flow,
    login_flow,
    oidc_base,
    refresh_flow,
    run_sync,
)


def password_login(url: str, verify: ssl.SSLContext, username: str, password: str,
                   timeout_s: float) -> OidcTokens | None:
    """OIDC tokens for ``username``, or ``None`` if the controller does not offer OIDC or the identity
    needs a TOTP code."""
    with httpx.Client(verify=verify, timeout=timeout_s) as http:
        try:
            version = http.get(url + api_paths.CLIENT + "/version")
            base = oidc_base((version.json() or {}).get("data") or {}) if version.status_code == 200 else None
            if base is None:
                return None
            endpoints = run_sync(http, discovery_flow(base))
            return run_sync(http, login_flow(endpoints, method="password",
                                             body={"username": username, "password": password}))
        except (httpx.HTTPError, ValueError) as exc:
            raise CliError(f"logging in to {url}: {exc}") from exc
        except TotpRequired:
            return None  # the legacy login asks for the code (docs/mfa.md §5)
        except ZitiError as exc:
            raise CliError(exc.message) from exc


def refreshed(login: SavedLogin, verify: ssl.SSLContext, timeout_s: float) -> SavedLogin:
    """``login`` with a new access and refresh token (saved), from its refresh token."""
    old = OidcTokens(login.token, login.refresh_token, login.token_endpoint, 0.0)
    with httpx.Client(verify=verify, timeout=timeout_s) as http:
        try:
            tokens = run_sync(http, refresh_flow(old))
        except ZitiError as exc:
            raise CliError(f"{exc.message} (log in again: ziti-aio login {login.url.removeprefix('https://')})"
                           ) from exc
    renewed = replace(login, token=tokens.access_token, refresh_token=tokens.refresh_token)
    save_login(renewed)
    return renewed
