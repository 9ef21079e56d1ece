"""The SDK's side of the Edge Client API (docs/edge-api.md §2): login, refresh, services, sessions, logout.

Every call has a deadline. Error envelopes become the matching :mod:`ziti_aio.common.errors`
class; an unreachable controller is :class:`ControllerUnavailable`. A call refused for an
expired or unknown API session re-authenticates once with the identity's certificate and
is retried, as libziti does.
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import trio

import ziti_aio
from ziti_aio.common import api_paths
from ziti_aio.common.errors import (
    AuthError,
    ControllerUnavailable,
    InvalidAuth,
    InvalidPosture,
    NoEdgeRoutersAvailable,
    NotFoundError,
    ZitiError,
)
from ziti_aio.sdk.posture import PostureQuery, parse_queries

if TYPE_CHECKING:
    from ziti_aio.sdk.identity_file import Identity

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

    def __init__(self, identity: Identity, *, config_types: tuple[str, ...] = ()) -> None:
        self.identity = identity
        self.config_types = config_types
        self.api_session: ApiSession | None = None
        self._http = httpx.AsyncClient(base_url=identity.ztapi + api_paths.CLIENT, verify=identity.ssl_context(),
                                       timeout=REQUEST_TIMEOUT_S, headers={"Accept": "application/json"})

    @property
    def token(self) -> str:
        if self.api_session is None:
            raise AuthError("not logged in")
        return self.api_session.token

    async def _send(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        headers = {"zt-session": self.token} if auth else {}
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
            log.info("API session at %s refused; authenticating again", self.identity.ztapi)
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
        """``POST /authenticate?method=cert`` with the identity's client certificate."""
        body = {"configTypes": list(self.config_types),
                "sdkInfo": {"type": SDK_TYPE, "version": ziti_aio.__version__},
                "envInfo": {"os": platform.system(), "osRelease": platform.release(),
                            "osVersion": platform.version(), "arch": platform.machine()}}
        resp = await self._send("POST", "/authenticate", auth=False, params={"method": "cert"}, json=body)
        if resp.is_error:
            raise _error(resp, f"authenticating at {self.identity.ztapi}")
        self.api_session = _api_session(resp.json()["data"])
        return self.api_session

    async def refresh(self) -> ApiSession:
        """``GET /current-api-session``: extends the session and swaps in the returned token."""
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
        urls = tuple(url for r in data.get("edgeRouters") or ()
                     if (url := (r.get("supportedProtocols") or r.get("urls") or {}).get("tls")))
        if not urls:
            raise NoEdgeRoutersAvailable(f"{what}: no edge router with a tls listener is available")
        return Session(id=data["id"], token=data["token"], type=data.get("type", session_type), router_urls=urls)

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
                log.info("logout from %s refused: %s", self.identity.ztapi, resp.status_code)
        except ControllerUnavailable as exc:
            log.info("logout from %s failed: %s", self.identity.ztapi, exc.message)
        self.api_session = None

    async def aclose(self) -> None:
        await self._http.aclose()

