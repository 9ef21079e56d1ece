"""The CLI's HTTP client for the Edge Management API, and how its failures reach the user.

Every failure becomes a :class:`CliError`; :func:`reported` prints it as one line on stderr
(``error: <code>: <message>`` for API errors) and exits with status 1, never a traceback.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import typer

from ziti_aio.cli.config_file import load_login
from ziti_aio.common.errors import ZitiError

MANAGEMENT_PATH = "/edge/management/v1"
REQUEST_TIMEOUT_S = 30.0
DEFAULT_HTTPS_PORT = 443

P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """A failure the CLI reports as one line."""


class ApiError(CliError):
    """The controller answered with an error envelope."""

    def __init__(self, code: str, message: str, status: int) -> None:
        self.code = code
        self.status = status
        super().__init__(f"{code}: {message}")


def reported(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command: its failures print ``error: ...`` on stderr and exit with status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            message = str(exc)
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


def error_from(resp: httpx.Response) -> ApiError:
    """An :class:`ApiError` from an error response, envelope or not."""
    try:
        error = resp.json().get("error") or {}
    except ValueError:
        error = {}
    code = str(error.get("code") or f"HTTP_{resp.status_code}")
    message = str(error.get("message") or resp.reason_phrase or "request failed")
    cause = error.get("cause")
    if isinstance(cause, dict) and cause.get("field"):
        field, reason = str(cause["field"]), str(cause.get("reason") or message)
        detail = reason if reason.startswith(field) else f"{field}: {reason}"
        message = detail if reason == message else f"{message} ({detail})"
    return ApiError(code, message, resp.status_code)


def send(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request; transport and TLS failures become a :class:`CliError`."""
    try:
        return http.request(method, url, **kwargs)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        target = urlsplit(url if "://" in url else str(http.base_url))
        raise CliError(f"cannot reach {target.scheme}://{target.netloc}: {exc}") from exc


def envelope(resp: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful response; an :class:`ApiError` otherwise."""
    if resp.is_error:
        raise error_from(resp)
    try:
        body = resp.json()
    except ValueError:
        raise CliError(f"the controller answered {resp.status_code} with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise CliError("the controller answered with JSON that is not an envelope")
    return body


def name_filter(name: str) -> str:
    """ZitiQL ``name="..."`` with the name quoted."""
    return 'name="' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ManagementClient:
    """Synchronous calls to ``/edge/management/v1`` of one controller."""

    def __init__(self, url: str, *, token: str | None = None, ca_pem: str | None = None) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["zt-session"] = token
        self.url = url
        self.http = httpx.Client(base_url=url + MANAGEMENT_PATH, verify=trust_context(ca_pem), headers=headers,
                                 timeout=REQUEST_TIMEOUT_S)

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
             ) -> dict[str, Any]:
        """The envelope of ``method path``; errors raise."""
        resp = send(self.http, method, path, json=json, params=params)
        if resp.status_code == 401 and "zt-session" in self.http.headers:
            err = error_from(resp)
            raise CliError(f"{err} (log in again: ziti-aio login {self.url.removeprefix('https://')})")
        return envelope(resp)

    def create(self, collection: str, body: dict[str, Any]) -> str:
        """POST a new entity; returns its id."""
        return str(self.call("POST", f"/{collection}", json=body)["data"]["id"])

    def patch(self, collection: str, ident: str, body: dict[str, Any]) -> None:
        self.call("PATCH", f"/{collection}/{quote(ident, safe='')}", json=body)

    def delete(self, collection: str, ident: str) -> None:
        self.call("DELETE", f"/{collection}/{quote(ident, safe='')}")

    def get(self, collection: str, ident: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/{collection}/{quote(ident, safe='')}")["data"])

    def find(self, collection: str, id_or_name: str, *, label: str, named: bool = True) -> dict[str, Any]:
        """The entity with id ``id_or_name``, else the one with that name (ziti's ``mapNameToID``)."""
        try:
            return self.get(collection, id_or_name)
        except ApiError as exc:
            if exc.status != 404:
                raise
        if named:
            found = self.call("GET", f"/{collection}", params={"filter": name_filter(id_or_name)})["data"]
            if len(found) == 1:
                return dict(found[0])
        raise CliError(f"no {label} found with id{' or name' if named else ''} {id_or_name!r}")


def open_client() -> ManagementClient:
    """A client for the saved login; a :class:`CliError` when there is none."""
    login = load_login()
    if login is None:
        raise CliError("not logged in: run ziti-aio login HOST[:PORT] -u USER -p PASSWORD [-y]")
    return ManagementClient(login.url, token=login.token, ca_pem=login.ca or None)
