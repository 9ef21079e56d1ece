"""The SDK's side of the Edge Client API (docs/edge-api.md §2): login, refresh, services, sessions, logout.

Login is by OIDC (:mod:`ziti_aio.sdk.oidc`, docs/oidc.md) when the controller's ``/version``
advertises it, else the legacy ``POST /authenticate``; ``legacy=True`` forces the latter.

Every call has a deadline. Error envelopes become the matching :mod:`ziti_aio.common.errors`
class; an unreachable controller is :class:`ControllerUnavailable`. A call refused for an
expired or unknown API session re-authenticates once with the identity's certificate and
is retried, as libziti does.
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import trio

import ziti_aio
from ziti_aio.common import api_paths
from ziti_aio.common.errors import (
    AuthError,
    ControllerUnavailable,
    InvalidAuth,
    InvalidPosture,
    MfaInvalidToken,
    NoEdgeRoutersAvailable,
    NotFoundError,
    RateLimited,
    ZitiError,
)
from ziti_aio.sdk.controllers import member_urls, moved, remember_members
from ziti_aio.sdk.oidc import (
    Endpoints,
    OidcTokens,
    TotpRequired,
    discovery_flow,
    login_flow,
    oidc_base,
    refresh_flow,
    run_async,
)
from ziti_aio.sdk.posture import PostureQuery, parse_queries

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from ziti_aio.sdk.identity_file import Identity
    from ziti_aio.sdk.oidc import Flow

    # Asked for a TOTP code when the controller's login answer carries an MFA auth query (given the query).
    TotpProvider = Callable[[dict[str, Any]], Awaitable[str]]

T = TypeVar("T")

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 15.0
PAGE_LIMIT = 500
MAX_PAGES = 1000
SDK_TYPE = "ziti-aio"

_ERRORS: dict[str, type[ZitiError]] = {
    "UNAUTHORIZED": AuthError,
    "INVALID_AUTH": InvalidAuth,
    "INVALID_AUTHENTICATION": InvalidAuth,
    "NOT_FOUND": NotFoundError,
    "NO_EDGE_ROUTERS_AVAILABLE": NoEdgeRoutersAvailable,
    "MFA_INVALID_TOKEN": MfaInvalidToken,
    "RATE_LIMITED": RateLimited,
    "INVALID_POSTURE": InvalidPosture,
}


@dataclass(frozen=True)
class ApiSession:
    """What the SDK keeps of ``currentApiSessionDetail``."""

    id: str
    token: str = field(repr=False)
    identity_id: str
    identity_name: str
    expiration_seconds: float


@dataclass(frozen=True)
class Service:
    """A service the identity can see: permissions (``Dial``/``Bind``) and the requested configs."""

    id: str
    name: str
    permissions: frozenset[str]
    encryption_required: bool
    config: dict[str, Any]
    posture_queries: tuple[PostureQuery, ...] = ()


@dataclass(frozen=True)
class Session:
    """A Dial or Bind session: its token and the ``tls`` URLs of the routers it may use."""

    id: str
    token: str = field(repr=False)
    type: str
    router_urls: tuple[str, ...]


def _router_urls(data: dict[str, Any], what: str) -> tuple[str, ...]:
    urls = tuple(url for r in data.get("edgeRouters") or ()
                 if (url := (r.get("supportedProtocols") or r.get("urls") or {}).get("tls")))
    if not urls:
        raise NoEdgeRoutersAvailable(f"{what}: no edge router with a tls listener is available")
    return urls


def _service(item: dict[str, Any]) -> Service:
    return Service(id=item["id"], name=item["name"], permissions=frozenset(item.get("permissions") or ()),
                   encryption_required=bool(item.get("encryptionRequired")), config=item.get("config") or {},
                   posture_queries=parse_queries(item))


def _api_session(data: dict[str, Any]) -> ApiSession:
    identity = data.get("identity") or {}
    return ApiSession(id=data["id"], token=data["token"], identity_id=identity.get("id", ""),
                      identity_name=identity.get("name", ""),
                      expiration_seconds=float(data.get("expirationSeconds") or 0))


def _error(resp: httpx.Response, what: str) -> ZitiError:
    try:
        err = resp.json().get("error") or {}
    except (json.JSONDecodeError, AttributeError):
        err = {}
    code = err.get("code", "")
    message = f"{what}: {err.get('message') or resp.reason_phrase} ({code or resp.status_code})"
    cls = _ERRORS.get(code, ZitiError)
    if cls is NotFoundError:
        return NotFoundError(message=message)
    return cls(message)


class EdgeClientApi:
    """One identity's HTTPS client for the controller; holds the current API session."""

    def __init__(self, identity: Identity, *, config_types: tuple[str, ...] = (),
                 totp_provider: TotpProvider | None = None, ext_jwt: str | Callable[[], str] | None = None,
                 legacy: bool = False, identity_path: Path | None = None) -> None:
        self.identity = identity
        self.identity_path = identity_path
        """The identity file the members are kept in (``ztAPIs``) once a login learned more than one."""
        # An external JWT (or what gives a fresh one) to log in with instead of the identity's certificate
        # (docs/external-jwt.md).
        self.ext_jwt = ext_jwt
        self.config_types = config_types
        self.totp_provider = totp_provider
        self.legacy = legacy
        self.api_session: ApiSession | None = None
        self.oidc: OidcTokens | None = None
        self._endpoints: Endpoints | None = None
        self._http = httpx.AsyncClient(base_url=identity.ztapi + api_paths.CLIENT, verify=identity.ssl_context(),
                                       timeout=REQUEST_TIMEOUT_S, headers={"Accept": "application/json"})
        self.controller_url = identity.ztapi
        """The controller this client talks to now (another member after a failover, docs/ha.md)."""
        self.controllers: list[str] = identity.controllers
        """The cluster's members (their base URLs): the identity's ``ztAPI`` and ``ztAPIs``, then those
        learned from ``GET /controllers`` after each login."""

    @property
    def token(self) -> str:
        if self.oidc is not None:
            return self.oidc.access_token
        if self.api_session is None:
            raise AuthError("not logged in")
        return self.api_session.token

    async def _send(self, method: str, path: str, *, auth: bool = True, headers: dict[str, str] | None = None,
                    **kwargs: Any) -> httpx.Response:
        """One request to the current controller; if it does not answer, to the next member that does
        (the API session and OIDC tokens are good on every member)."""
        try:
            return await self._send_here(method, path, auth=auth, headers=headers, **kwargs)
        except ControllerUnavailable:
            if not await self._fail_over():
                raise
        return await self._send_here(method, path, auth=auth, headers=headers, **kwargs)

    async def _fail_over(self) -> bool:
        """Move to the first other member that answers ``/version``; ``False`` if none does."""
        here = self.controller_url
        for url in [u for u in self.controllers if u != here]:
            self._http.base_url = httpx.URL(url + api_paths.CLIENT)
            try:
                await self._send_here("GET", "/version", auth=False)
            except ControllerUnavailable:
                continue
            log.info("controller %s does not answer; moving to %s", here, url)
            self.controller_url = url
            self._endpoints = None
            if self.oidc is not None:
                self.oidc = replace(self.oidc, token_endpoint=moved(self.oidc.token_endpoint, url))
            return True
        self._http.base_url = httpx.URL(here + api_paths.CLIENT)
        return False

    async def _learn_controllers(self) -> None:
        """The members from ``GET /controllers`` (a controller without one keeps the list as it is)."""
        try:
            resp = await self._send_here("GET", "/controllers")
        except ControllerUnavailable:
            return
        if resp.is_success:
            self.controllers = member_urls(resp.json().get("data") or [], self.controller_url)
            if self.identity_path is not None and len(self.controllers) > 1:
                await trio.to_thread.run_sync(remember_members, self.identity_path, self.controllers)

    async def _send_here(self, method: str, path: str, *, auth: bool = True, headers: dict[str, str] | None = None,
                         **kwargs: Any) -> httpx.Response:
        mine = {} if not auth else {"Authorization": f"Bearer {self.token}"} if self.oidc else \
            {"zt-session": self.token}
        headers = {**mine, **(headers or {})}
        try:
            with trio.fail_after(REQUEST_TIMEOUT_S):
                return await self._http.request(method, path, headers=headers, **kwargs)
        except (httpx.HTTPError, trio.TooSlowError) as exc:
            raise ControllerUnavailable(f"{method} {path}: {exc or type(exc).__name__}") from exc

    async def _call(self, method: str, path: str, what: str, *, none_if_404: bool = False,
                    **kwargs: Any) -> dict[str, Any] | None:
        """An authenticated call returning the envelope; re-authenticates once if the session is refused."""
        resp = await self._send(method, path, **kwargs)
        if resp.status_code == 401:
            log.info("API session at %s refused; authenticating again", self.controller_url)
            await self.authenticate()
            resp = await self._send(method, path, **kwargs)
        if none_if_404 and resp.status_code == 404:
            return None
        if resp.is_error:
            raise _error(resp, what)
        doc: dict[str, Any] = resp.json()
        return doc

    async def _data(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        doc = await self._call(method, path, what, **kwargs)
        return (doc or {}).get("data")

    async def authenticate(self) -> ApiSession:
        """Log in: with the external JWT in ``Authorization: Bearer`` (``method=ext-jwt``) if one was given;
        else with the identity's client certificate, by OIDC if the controller offers it and no TOTP
        provider is given (TOTP is answered on the legacy path: docs/mfa.md §5), else
        ``POST /authenticate?method=cert``."""
        body = {"configTypes": list(self.config_types),
                "sdkInfo": {"type": SDK_TYPE, "version": ziti_aio.__version__},
                "envInfo": {"os": platform.system(), "osRelease": platform.release(),
                            "osVersion": platform.version(), "arch": platform.machine()}}
        base = None if self.legacy or self.ext_jwt or self.totp_provider else await self._oidc_base()
        if base is not None:
            if self._endpoints is None or self._endpoints.base != base:
                self._endpoints = await self._oidc(discovery_flow(base), "discovering OIDC")
            try:
                self.oidc = await self._oidc(login_flow(self._endpoints, body=body), "authenticating")
            except TotpRequired as exc:
                raise InvalidAuth(f"authenticating at {self.controller_url}: the identity needs a TOTP code (MFA) "
                                  "and no totp_provider was given") from exc
            self.api_session = _api_session(await self._data("GET", "/current-api-session", "reading the API session"))
            await self._learn_controllers()
            return self._with_oidc_expiry()
        self.oidc = None
        if self.ext_jwt:
            token = self.ext_jwt() if callable(self.ext_jwt) else self.ext_jwt
            resp = await self._send("POST", "/authenticate", auth=False, params={"method": "ext-jwt"}, json=body,
                                    headers={"Authorization": f"Bearer {token}"})
        else:
            resp = await self._send("POST", "/authenticate", auth=False, params={"method": "cert"}, json=body)
        if resp.is_error:
            raise _error(resp, f"authenticating at {self.controller_url}")
        data = resp.json()["data"]
        self.api_session = _api_session(data)
        try:
            for query in data.get("authQueries") or ():
                await self._answer(query)
        except ZitiError:
            # A session left waiting for its code is of no use to anyone.
            await self.logout()
            raise
        await self._learn_controllers()
        return self.api_session

    async def _answer(self, query: dict[str, Any]) -> None:
        """Answer one of the login's auth queries: a TOTP code from ``totp_provider`` (docs/mfa.md §5)."""
        where = f"authenticating at {self.controller_url}"
        if query.get("typeId") not in ("MFA", "TOTP") or query.get("provider") != "ziti":
            raise InvalidAuth(f"{where}: the controller asks for {query.get('typeId')!r}, which this SDK cannot answer")
        if self.totp_provider is None:
            raise InvalidAuth(f"{where}: the identity needs a TOTP code (MFA) and no totp_provider was given")
        code = await self.totp_provider(query)
        resp = await self._send("POST", "/authenticate/mfa", json={"code": code})
        if resp.is_error:
            raise _error(resp, f"{where}: the TOTP code")

    async def _oidc_base(self) -> str | None:
        resp = await self._send("GET", "/version", auth=False)
        if resp.is_error:
            raise _error(resp, f"reading the version of {self.controller_url}")
        return oidc_base(resp.json().get("data") or {})

    async def _oidc(self, flow: Flow[T], what: str) -> T:
        try:
            with trio.fail_after(REQUEST_TIMEOUT_S):
                result = await run_async(self._http, flow)
        except trio.TooSlowError as exc:
            raise ControllerUnavailable(f"{what} at {self.controller_url}: timed out") from exc
        except (InvalidAuth, ControllerUnavailable) as exc:
            raise type(exc)(f"{what} at {self.controller_url}: {exc.message}") from exc
        return result

    def _with_oidc_expiry(self) -> ApiSession:
        """The API session with the access token and its remaining life (which drives the refresh)."""
        assert self.api_session is not None and self.oidc is not None
        self.api_session = replace(self.api_session, token=self.oidc.access_token,
                                   expiration_seconds=max(0.0, self.oidc.seconds_left()))
        return self.api_session

    async def refresh(self) -> ApiSession:
        """Renew the login: the OIDC refresh grant (logging in again if it is refused), or
        ``GET /current-api-session``, which extends a legacy session and swaps in the returned token."""
        if self.oidc is not None:
            try:
                try:
                    self.oidc = await self._oidc(refresh_flow(self.oidc), "refreshing the OIDC login")
                except ControllerUnavailable:
                    if not await self._fail_over():  # another member refreshes it (the same signing key)
                        raise
                    self.oidc = await self._oidc(refresh_flow(self.oidc), "refreshing the OIDC login")
            except InvalidAuth as exc:
                log.info("OIDC refresh at %s refused (%s); logging in again", self.controller_url, exc.message)
                return await self.authenticate()
            return self._with_oidc_expiry()
        self.api_session = _api_session(await self._data("GET", "/current-api-session", "refreshing the API session"))
        return self.api_session

    async def current_identity(self) -> dict[str, Any]:
        data: dict[str, Any] = await self._data("GET", "/current-identity", "reading the current identity")
        return data

    async def last_service_change(self) -> str | None:
        """``lastChangeAt`` of the service updates API, or ``None`` if the controller has none (404)."""
        doc = await self._call("GET", "/current-api-session/service-updates", "reading service updates",
                               none_if_404=True)
        return None if doc is None else str((doc.get("data") or {}).get("lastChangeAt"))

    async def services(self, *, name: str | None = None) -> dict[str, Service]:
        """Every visible service (paged until ``totalCount``), or only the one called ``name``."""
        found: dict[str, Service] = {}
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        if name is not None:
            params["filter"] = f"name={json.dumps(name)}"
        for page in range(MAX_PAGES):
            doc = await self._call("GET", "/services", "listing services",
                                   params={**params, "offset": page * PAGE_LIMIT}) or {}
            items = doc.get("data") or []
            found.update((s.name, s) for s in map(_service, items))
            total = ((doc.get("meta") or {}).get("pagination") or {}).get("totalCount", 0)
            if not items or (page + 1) * PAGE_LIMIT >= total:
                break
        return found

    async def create_session(self, service: Service, session_type: str) -> Session:
        """``POST /sessions`` for ``service``; ``session_type`` is ``Dial`` or ``Bind``."""
        what = f"{session_type} session for service {service.name!r}"
        try:
            data = await self._data("POST", "/sessions", what, json={"serviceId": service.id, "type": session_type})
        except NotFoundError as exc:
            raise NotFoundError("service", service.name, f"{what}: not found or not permitted") from exc
        return Session(id=data["id"], token=data["token"], type=data.get("type", session_type),
                       router_urls=_router_urls(data, what))

    async def service_routers(self, service: Service) -> tuple[str, ...]:
        """``GET /services/{id}/edge-routers``: the ``tls`` URLs of the routers this identity may use for it."""
        what = f"edge routers of service {service.name!r}"
        return _router_urls(await self._data("GET", f"/services/{service.id}/edge-routers", what), what)

    async def submit_posture(self, answers: list[dict[str, Any]]) -> None:
        """``POST /posture-response-bulk`` with posture answers (:mod:`ziti_aio.sdk.posture`)."""
        await self._call("POST", "/posture-response-bulk", "sending posture", json=answers)

    async def logout(self) -> None:
        """``DELETE /current-api-session``; failures are logged, not raised (we are leaving anyway)."""
        if self.api_session is None:
            return
        try:
            resp = await self._send("DELETE", "/current-api-session")
            if resp.is_error:
                log.info("logout from %s refused: %s", self.controller_url, resp.status_code)
        except ControllerUnavailable as exc:
            log.info("logout from %s failed: %s", self.controller_url, exc.message)
        self.api_session = None
        self.oidc = None

    async def aclose(self) -> None:
        await self._http.aclose()

