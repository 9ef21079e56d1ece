"""The CLI's connection to the Edge Management API, and how its failures reach the user.

The client is a :class:`ziti_aio.sdk.management.ManagementClient` for the saved login that applies the running
command's request flags (:mod:`ziti_aio.cli.request_options`): its timeout, its tags on what it creates or
updates, and the JSON it prints of each change sent and answered. :func:`reported` prints every failure as one
line on stderr (``error: <code>: <message>`` for API errors) and exits with status 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
import ssl
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import typer

from ziti_aio.cli.config_file import SavedLogin, load_login, seconds_left
from ziti_aio.cli.request_options import current
from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk.blocking_http import HttpFailure
from ziti_aio.sdk.management import ManagementClient, ManagementError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ziti_aio.sdk.blocking_http import Response

__all__ = ["CliError", "ManagementClient", "normalize_url", "open_client", "reported", "trust_context"]

DEFAULT_HTTPS_PORT = 443
REFRESH_MARGIN_S = 60.0
"""A saved OIDC access token with less life than this is refreshed before a command uses it."""

P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """A failure the CLI reports as one line."""


def reported(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command: its failures print ``error: ...`` on stderr and exit with status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            message = str(exc)
        except ManagementError as exc:
            message = exc.message
        except ZitiError as exc:
            message = f"{exc.code}: {exc.message}"
        except OSError as exc:
            message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1)

    return wrapper


def normalize_url(address: str) -> str:
    """``https://host:port`` from ``host``, ``host:port`` or an https URL (any path is dropped)."""
    text = address.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise CliError(f"not a controller address: {address!r} ({exc})") from None
    if parts.scheme != "https" or not parts.hostname:
        raise CliError(f"not a controller address: {address!r} (expected HOST[:PORT] or https://HOST:PORT)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"https://{host}" + (f":{port}" if port and port != DEFAULT_HTTPS_PORT else "")


def trust_context(ca_pem: str | None) -> ssl.SSLContext:
    """TLS verification against ``ca_pem`` when given, else the system's roots."""
    if not ca_pem:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=ca_pem)
    except ssl.SSLError as exc:
        raise CliError(f"the saved CA bundle is unusable: {exc}") from exc


def _changes(method: str, path: str) -> bool:
    return method != "GET" and not path.endswith("/authenticate")


def _pretty(content: bytes) -> str:
    try:
        return json.dumps(json.loads(content), indent=2)
    except ValueError:
        return content.decode(errors="replace")


def _show_request(method: str, path: str, body: bytes | None) -> None:
    if current().output_request_json and _changes(method, path) and body:
        typer.echo(_pretty(body))


def _show_response(method: str, path: str, response: Response) -> None:
    if current().output_json and _changes(method, path):
        typer.echo(_pretty(response.content))


class CliClient(ManagementClient):
    """The management client of a command: what it creates or updates gets the command's ``--tags``."""

    def create(self, collection: str, body: dict[str, Any]) -> str:
        return super().create(collection, _tagged(body))

    def patch(self, collection: str, ident: str, body: dict[str, Any]) -> None:
        super().patch(collection, ident, _tagged(body))


def _tagged(body: dict[str, Any]) -> dict[str, Any]:
    tags = current().tags
    return body if tags is None else {**body, "tags": tags}


@contextmanager
def open_client() -> Iterator[ManagementClient]:
    """A client for the saved login (a :class:`CliError` when there is none); a refused session says how to
    log in again."""
    login = load_login()
    if login is None:
        raise CliError("not logged in: run ziti-aio login HOST[:PORT] -u USER -p PASSWORD [-y]")
    options = current()
    if login.overlay:
        opened = overlay_client(login, options.timeout_s)
    else:
        verify = trust_context(login.ca or None)
        left = seconds_left(login.token)
        if login.refresh_token and left is not None and left < REFRESH_MARGIN_S:
            from ziti_aio.cli.oidc_session import refreshed  # httpx, only when an OIDC login needs it

            login = refreshed(login, verify, options.timeout_s)
        opened = CliClient.open(login.url, verify=verify, token=login.token, timeout_s=options.timeout_s)
    with opened as client:
        client.http.on_request, client.http.on_response = _show_request, _show_response
        try:
            yield client
        except ManagementError as exc:
            if exc.status == 401:
                again = (f"--network-identity {login.identity}" if login.overlay else
                         login.url.removeprefix("https://"))
                raise CliError(f"{exc.message} (log in again: ziti-aio login {again})") from exc
            raise


def overlay_client(login: SavedLogin, timeout_s: float) -> ManagementClient:
    """A client over the overlay: the saved identity logs in and dials the management service (docs/operations.md,
    "Dark management plane")."""
    from ziti_aio.sdk.overlay_http import OverlayHttp  # trio, httpx and the SDK: only for overlay logins

    try:
        http = OverlayHttp(Path(login.identity), login.service, headers={"Accept": "application/json"},
                           timeout_s=timeout_s)
    except HttpFailure as exc:
        raise CliError(f"cannot reach the management service over the overlay: {exc}") from exc
    return CliClient(http)
