"""The management API as the console's logged-in user sees it: requests go in process through the controller's
own ASGI application (httpx over ASGI, no socket), carrying the user's ``zt-session`` token, so every check,
permission and error is the API's own (docs/console.md)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from ziti_aio.common.api_paths import MANAGEMENT

_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}")
PAGE_LIMIT = 500
MAX_PAGES = 20


class ApiFailure(Exception):
    """An error envelope the management API answered: shown to the user as it is."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    @property
    def unauthorized(self) -> bool:
        return self.status == 401


def _failure(response: httpx.Response) -> ApiFailure:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    cause = error.get("cause") or {}
    message = error.get("message") or f"HTTP {response.status_code}"
    field = cause.get("field") if isinstance(cause, dict) else None
    reason = cause.get("reason") if isinstance(cause, dict) else None
    if field and reason:
        message = f"{message}: {field} {reason}"
    elif error.get("causeMessage"):
        message = f"{message}: {error['causeMessage']}"
    return ApiFailure(response.status_code, str(error.get("code") or "UNKNOWN"), str(message), field)


def _url(path: str) -> str:
    """The management API URL of ``path``, whose segments may come from the console's own URL (an id): each
    must be a plain id-like word, so none can add a query, a fragment or a dot segment."""
    if not all(_SEGMENT.fullmatch(segment) for segment in path.split("/")):
        raise ApiFailure(404, "NOT_FOUND", "no such entity")
    return f"{MANAGEMENT}/{path}"


class ManagementApi:
    """One console request's view of the management API (``token`` may be ``None`` before login)."""

    def __init__(self, app: Any, token: str | None, remote_addr: str | None) -> None:
        transport = httpx.ASGITransport(app=app, client=(remote_addr or "127.0.0.1", 0))
        headers = {"zt-session": token} if token else {}
        self._client = httpx.AsyncClient(transport=transport, base_url="https://controller", headers=headers)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   body: Any = None) -> Any:
        """``data`` of the answer to ``method path`` (relative to the management API); raises :class:`ApiFailure`."""
        response = await self._client.request(method, _url(path), params=params, json=body)
        if response.status_code >= 400:
            raise _failure(response)
        return response.json().get("data")

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params or None)

    async def all(self, path: str, filter: str | None = None) -> list[dict[str, Any]]:
        """Every entity of a list (pages of :data:`PAGE_LIMIT`, at most :data:`MAX_PAGES` of them)."""
        found: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            params: dict[str, Any] = {"limit": PAGE_LIMIT, "offset": page * PAGE_LIMIT}
            if filter:
                params["filter"] = filter
            response = await self._client.get(_url(path), params=params)
            if response.status_code >= 400:
                raise _failure(response)
            body = response.json()
            found += body["data"]
            total = body.get("meta", {}).get("pagination", {}).get("totalCount", 0)
            if len(found) >= total or not body["data"]:
                break
        return found

    async def login(self, username: str, password: str) -> str:
        """A new API session's token for a password login."""
        data = await self.call("POST", "authenticate", params={"method": "password"},
                               body={"username": username, "password": password})
        return str(data["token"])

    async def login_certificate(self) -> str:
        """A new API session's token for the client certificate of the browser's TLS connection: the in-process
        request runs in that connection's context, where the server keeps the peer certificate."""
        data = await self.call("POST", "authenticate", params={"method": "cert"}, body={})
        return str(data["token"])
