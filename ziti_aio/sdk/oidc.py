"""Logging in by OIDC as libziti 1.x does (docs/oidc.md §2): discovery, authorization code + PKCE S256,
the login done by the client certificate or a password, and the rotating refresh.

The flow is written once, without I/O: a generator yields each request (method, absolute URL, httpx
keyword arguments) and is sent the response. :func:`run_async` drives it with an
``httpx.AsyncClient`` (the SDK), :func:`run_sync` with an ``httpx.Client`` (the CLI). Redirects are
never followed by the client: each ``Location`` is read here.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt

from ziti_aio.common.errors import ControllerUnavailable, InvalidAuth, ZitiError

if TYPE_CHECKING:
    from collections.abc import Mapping

CLIENT_ID = "openziti"
SCOPE = "openid offline_access"
REDIRECT_URI = "http://localhost:20314/auth/callback"
"""Registered for the ``openziti`` client and never contacted: the SDK reads the redirect itself."""
CAPABILITY = "OIDC_AUTH"

T = TypeVar("T")
Step = tuple[str, str, dict[str, Any]]
Flow = Generator[Step, httpx.Response, T]


@dataclass(frozen=True)
class OidcTokens:
    """An access token, the refresh token to renew it, and where to renew it."""

    access_token: str
    refresh_token: str
    token_endpoint: str
    expires_at: float

    def seconds_left(self) -> float:
        return self.expires_at - time.time()


def oidc_base(version: Mapping[str, Any]) -> str | None:
    """The OIDC base URL a ``/version`` answer advertises (capability ``OIDC_AUTH`` and
    ``apiVersions["edge-oidc"].v1``), or ``None`` for legacy login (docs/sdk-1x.md §1.2)."""
    api = ((version.get("apiVersions") or {}).get("edge-oidc") or {}).get("v1") or {}
    urls = api.get("apiBaseUrls") or []
    if CAPABILITY not in (version.get("capabilities") or ()) or not urls or not isinstance(urls[0], str):
        return None
    base: str = urls[0].rstrip("/")
    return base if "/oidc" in base else base + "/oidc"


def _refused(resp: httpx.Response, what: str) -> ZitiError:
    """The error of an unexpected answer: ``CODE: message`` of an OpenZiti envelope, ``error: description``
    of an OAuth error, else the status."""
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict):
        detail = f"{err.get('code')}: {err.get('message')}"
    elif isinstance(err, str):
        detail = f"{err}: {doc.get('error_description') or what}"
    else:
        detail = f"OIDC {what} answered {resp.status_code} {resp.reason_phrase}"
    return InvalidAuth(detail) if resp.status_code < 500 else ControllerUnavailable(detail)


class TotpRequired(InvalidAuth):
    """The login answered auth queries (a TOTP code) instead of a redirect (docs/sdk-1x.md §2.1)."""


def _auth_queries(resp: httpx.Response) -> list[Any]:
    try:
        doc = resp.json()
    except ValueError:
        return []
    queries = doc.get("authQueries") if isinstance(doc, dict) else None
    return queries if isinstance(queries, list) else []


def _redirect(resp: httpx.Response, what: str) -> str:
    if resp.status_code not in (301, 302, 303, 307, 308) or "location" not in resp.headers:
        raise _refused(resp, what)
    return str(resp.headers["location"])


def _query(location: str, name: str, what: str) -> str:
    found = parse_qs(urlsplit(location).query).get(name)
    if not found:
        raise InvalidAuth(f"OIDC {what}: the redirect carries no {name}")
    return found[0]


def _tokens(resp: httpx.Response, token_endpoint: str) -> OidcTokens:
    if resp.status_code != 200:
        raise _refused(resp, "token request")
    doc = resp.json()
    access, refresh = doc.get("access_token"), doc.get("refresh_token")
    if not isinstance(access, str) or not isinstance(refresh, str):
        raise InvalidAuth("OIDC token answer lacks an access or refresh token")
    try:
        expires = float(jwt.decode(access, options={"verify_signature": False})["exp"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise InvalidAuth("OIDC access token is not a JWT with an expiry") from exc
    return OidcTokens(access, refresh, token_endpoint, expires)


@dataclass(frozen=True)
class Endpoints:
    """What discovery says, as libziti reads it: the authorization and token endpoints."""

    base: str
    authorize: str
    token: str


def discovery_flow(base: str) -> Flow[Endpoints]:
    """``GET {base}/.well-known/openid-configuration`` (asked once; the endpoints are kept)."""
    config = yield "GET", f"{base}/.well-known/openid-configuration", {}
    if config.status_code != 200:
        raise _refused(config, "discovery")
    doc = config.json()
    authorize, token = doc.get("authorization_endpoint"), doc.get("token_endpoint")
    if not isinstance(authorize, str) or not isinstance(token, str):
        raise InvalidAuth("OIDC discovery names no authorization or token endpoint")
    return Endpoints(base, authorize, token)


def login_flow(endpoints: Endpoints, *, method: str = "cert",
               body: Mapping[str, Any] | None = None) -> Flow[OidcTokens]:
    """Authorize, ``/oidc/login/<method>`` (``cert`` or ``password``), callback, token."""
    base, authorize, token = endpoints.base, endpoints.authorize, endpoints.token
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(30)
    started = yield "POST", authorize, {"params": {
        "client_id": CLIENT_ID, "scope": SCOPE, "response_type": "code", "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge, "code_challenge_method": "S256", "state": state, "audience": CLIENT_ID}}
    request_id = _query(_redirect(started, "authorize"), "authRequestID", "authorize")
    logged_in = yield "POST", urljoin(base, f"/oidc/login/{method}"), {"params": {"id": request_id},
                                                                       "json": dict(body or {})}
    if logged_in.status_code == 200 and _auth_queries(logged_in):
        raise TotpRequired("the identity needs a TOTP code (MFA), which this OIDC login cannot give")
    issued = yield "GET", urljoin(base, _redirect(logged_in, "login")), {}
    location = _redirect(issued, "callback")
    if _query(location, "state", "callback") != state:
        raise InvalidAuth("OIDC callback returned another state")
    answer = yield "POST", token, {"data": {
        "grant_type": "authorization_code", "code": _query(location, "code", "callback"), "code_verifier": verifier,
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI}}
    return _tokens(answer, token)


def refresh_flow(tokens: OidcTokens) -> Flow[OidcTokens]:
    """The refresh grant: a new access token and the next refresh token (the old one is spent)."""
    answer = yield "POST", tokens.token_endpoint, {"auth": (CLIENT_ID, ""), "data": {
        "grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": CLIENT_ID}}
    return _tokens(answer, tokens.token_endpoint)


def _step(flow: Flow[T], resp: httpx.Response | None) -> tuple[Step | None, T | None]:
    try:
        return (next(flow) if resp is None else flow.send(resp)), None
    except StopIteration as done:
        return None, done.value


async def run_async(http: httpx.AsyncClient, flow: Flow[T]) -> T:
    """Drive ``flow`` with an async client; transport failures are :class:`ControllerUnavailable`."""
    step, result = _step(flow, None)
    while step is not None:
        method, url, kwargs = step
        try:
            resp = await http.request(method, url, follow_redirects=False, **kwargs)
        except httpx.HTTPError as exc:
            raise ControllerUnavailable(f"OIDC {method} {url}: {exc or type(exc).__name__}") from exc
        step, result = _step(flow, resp)
    return result  # type: ignore[return-value]


def run_sync(http: httpx.Client, flow: Flow[T]) -> T:
    """Drive ``flow`` with a blocking client."""
    step, result = _step(flow, None)
    while step is not None:
        method, url, kwargs = step
        try:
            resp = http.request(method, url, follow_redirects=False, **kwargs)
        except httpx.HTTPError as exc:
            raise ControllerUnavailable(f"OIDC {method} {url}: {exc or type(exc).__name__}") from exc
        step, result = _step(flow, resp)
    return result  # type: ignore[return-value]
