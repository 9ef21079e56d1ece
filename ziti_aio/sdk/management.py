"""The Edge Management API client of the CLI, the appliance and the test harness.

Each call is written once, in :class:`ManagementCalls`, as a generator: it yields the request it needs
(method, path under the controller's URL, httpx arguments), is sent the response and returns what it
read. :class:`ManagementClient` drives those generators over a blocking
:class:`~ziti_aio.sdk.blocking_http.BlockingHttp` (the CLI, whose start must stay cheap),
:class:`AsyncManagementClient` over an ``httpx.AsyncClient`` (trio code, imported there). Either way an error envelope,
or a controller that cannot be reached, is one :class:`ManagementError`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

from ziti_aio.common import api_paths
from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk.blocking_http import BlockingHttp, Http, HttpFailure

if TYPE_CHECKING:
    import ssl

    import httpx

REQUEST_TIMEOUT_S = 30.0
SESSION_HEADER = "zt-session"

T = TypeVar("T")


class Answer(Protocol):
    """What a call reads of a response (``httpx.Response`` and :class:`BlockingHttp`'s both have it)."""

    @property
    def status_code(self) -> int: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def is_error(self) -> bool: ...

    def json(self) -> Any: ...


Request = tuple[str, str, dict[str, Any]]
Call = Generator[Request, Answer, T]


class ManagementError(ZitiError):
    """A management call failed. ``status`` and ``api_code`` are the controller's answer (``None`` when it
    could not be reached); the message is ``CODE: message`` for an answer, else what went wrong."""

    code = "MANAGEMENT_CALL_FAILED"
    http_status = 502

    def __init__(self, message: str, *, status: int | None = None, api_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.api_code = api_code


def error_from(resp: Answer) -> ManagementError:
    """A :class:`ManagementError` from an error response, envelope or not (a field's reason included)."""
    try:
        error = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = str(error.get("code") or f"HTTP_{resp.status_code}")
    message = str(error.get("message") or resp.reason_phrase or "request failed")
    cause = error.get("cause")
    if isinstance(cause, dict) and cause.get("field"):
        field, reason = str(cause["field"]), str(cause.get("reason") or message)
        detail = reason if reason.startswith(field) else f"{field}: {reason}"
        message = detail if reason == message else f"{message} ({detail})"
    return ManagementError(f"{code}: {message}", status=resp.status_code, api_code=code)


def envelope(resp: Answer) -> dict[str, Any]:
    """The JSON body of a successful response; a :class:`ManagementError` otherwise."""
    if resp.is_error:
        raise error_from(resp)
    try:
        body = resp.json()
    except ValueError:
        raise ManagementError(f"the controller answered {resp.status_code} with a body that is not JSON",
                              status=resp.status_code) from None
    if not isinstance(body, dict):
        raise ManagementError("the controller answered with JSON that is not an envelope", status=resp.status_code)
    return body


def unreachable(url: str, exc: Exception) -> ManagementError:
    """The error for a request that got no answer (connection, TLS or timeout failure)."""
    return ManagementError(f"cannot reach {url}: {exc}")


def name_filter(name: str) -> str:
    """ZitiQL ``name="..."`` with the name quoted."""
    return 'name="' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _entity(collection: str, ident: str) -> str:
    return f"/{collection}/{quote(ident, safe='')}"


class ManagementCalls:
    """What each management call sends and how it reads the answer; no I/O (see the module docstring)."""

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
             ) -> Call[dict[str, Any]]:
        """The envelope of ``method path`` (``path`` under ``/edge/management/v1``)."""
        resp = yield method, api_paths.MANAGEMENT + path, {"json": json, "params": params}
        return envelope(resp)

    def authenticate(self, username: str, password: str, totp: Callable[[], str] | None = None) -> Call[str]:
        """A new API session's token, by username and password; when the controller asks for a TOTP code
        (an MFA auth query), ``totp`` gives it (docs/mfa.md §5)."""
        body = yield from self.call("POST", "/authenticate", params={"method": "password"},
                                    json={"username": username, "password": password})
        data = body.get("data") or {}
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise ManagementError("the controller's answer holds no session token")
        for query in data.get("authQueries") or ():
            if query.get("typeId") not in ("MFA", "TOTP") or totp is None:
                raise ManagementError(f"the login needs {query.get('typeId')!r} (a TOTP code for MFA), which was "
                                      "not given", api_code="AUTH_QUERY")
            resp = yield "POST", api_paths.MANAGEMENT + "/authenticate/mfa", {
                "json": {"code": totp()}, "headers": {SESSION_HEADER: token}}
            envelope(resp)
        return token

    def authenticate_ext_jwt(self, token: str) -> Call[str]:
        """A new API session's token, by an external JWT (docs/external-jwt.md)."""
        resp = yield "POST", api_paths.MANAGEMENT + "/authenticate", {
            "params": {"method": "ext-jwt"}, "json": {}, "headers": {"Authorization": f"Bearer {token}"}}
        found = (envelope(resp).get("data") or {}).get("token")
        if not isinstance(found, str) or not found:
            raise ManagementError("the controller's answer holds no session token")
        return found

    def create(self, collection: str, body: dict[str, Any]) -> Call[str]:
        """POST a new entity; returns its id."""
        return str((yield from self.call("POST", f"/{collection}", json=body))["data"]["id"])

    def get(self, collection: str, ident: str) -> Call[dict[str, Any]]:
        return dict((yield from self.call("GET", _entity(collection, ident)))["data"])

    def patch(self, collection: str, ident: str, body: dict[str, Any]) -> Call[None]:
        yield from self.call("PATCH", _entity(collection, ident), json=body)

    def delete(self, collection: str, ident: str) -> Call[None]:
        yield from self.call("DELETE", _entity(collection, ident))

    def verify_ca(self, ident: str, cert_pem: str) -> Call[None]:
        """Prove possession of a CA's key: POST a certificate it signed for its verification token (PEM text)."""
        resp = yield "POST", api_paths.MANAGEMENT + _entity("cas", ident) + "/verify", {
            "content": cert_pem.encode(), "headers": {"Content-Type": "text/plain"}}
        envelope(resp)

    def find_named(self, collection: str, name: str) -> Call[dict[str, Any] | None]:
        """The entity called ``name``, or ``None``."""
        found = (yield from self.call("GET", f"/{collection}", params={"filter": name_filter(name)}))["data"]
        return dict(found[0]) if len(found) == 1 else None

    def find(self, collection: str, id_or_name: str, *, label: str, named: bool = True) -> Call[dict[str, Any]]:
        """The entity with id ``id_or_name``, else the one with that name (ziti's ``mapNameToID``)."""
        try:
            return (yield from self.get(collection, id_or_name))
        except ManagementError as exc:
            if exc.status != 404:
                raise
        if named and (found := (yield from self.find_named(collection, id_or_name))) is not None:
            return found
        raise ManagementError(f"no {label} found with id{' or name' if named else ''} {id_or_name!r}", status=404)

    def ensure(self, collection: str, body: dict[str, Any]) -> Call[dict[str, Any]]:
        """The entity named ``body["name"]``, created with ``body`` if missing."""
        found = yield from self.find_named(collection, body["name"])
        if found is not None:
            return found
        return (yield from self.get(collection, (yield from self.create(collection, body))))


CALLS = ManagementCalls()


def _headers(token: str | None) -> dict[str, str]:
    return {"Accept": "application/json", **({SESSION_HEADER: token} if token else {})}


class ManagementClient:
    """Blocking management calls over ``http`` (its ``base_url`` the controller's URL)."""

    def __init__(self, http: Http) -> None:
        self.http = http

    @classmethod
    def open(cls, url: str, *, verify: ssl.SSLContext, token: str | None = None,
             timeout_s: float = REQUEST_TIMEOUT_S) -> ManagementClient:
        """A client of its own for the controller at ``url``; close it with ``with`` or :meth:`close`."""
        try:
            return cls(BlockingHttp(url, verify=verify, headers=_headers(token), timeout_s=timeout_s))
        except HttpFailure as exc:
            raise unreachable(url, exc) from exc

    @property
    def url(self) -> str:
        return self.http.base_url

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def run(self, call: Call[T]) -> T:
        """Drive one call of :class:`ManagementCalls` to its result."""
        try:
            method, path, kwargs = next(call)
            while True:
                try:
                    resp = self.http.request(method, path, **kwargs)
                except HttpFailure as exc:
                    raise unreachable(self.url, exc) from exc
                method, path, kwargs = call.send(resp)
        except StopIteration as done:
            result: T = done.value
            return result

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        return self.run(CALLS.call(method, path, json=json, params=params))

    def authenticate(self, username: str, password: str, totp: Callable[[], str] | None = None) -> str:
        return self.run(CALLS.authenticate(username, password, totp))

    def authenticate_ext_jwt(self, token: str) -> str:
        return self.run(CALLS.authenticate_ext_jwt(token))

    def create(self, collection: str, body: dict[str, Any]) -> str:
        return self.run(CALLS.create(collection, body))

    def get(self, collection: str, ident: str) -> dict[str, Any]:
        return self.run(CALLS.get(collection, ident))

    def patch(self, collection: str, ident: str, body: dict[str, Any]) -> None:
        self.run(CALLS.patch(collection, ident, body))

    def delete(self, collection: str, ident: str) -> None:
        self.run(CALLS.delete(collection, ident))

    def verify_ca(self, ident: str, cert_pem: str) -> None:
        self.run(CALLS.verify_ca(ident, cert_pem))

    def find_named(self, collection: str, name: str) -> dict[str, Any] | None:
        return self.run(CALLS.find_named(collection, name))

    def find(self, collection: str, id_or_name: str, *, label: str, named: bool = True) -> dict[str, Any]:
        return self.run(CALLS.find(collection, id_or_name, label=label, named=named))

    def ensure(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.run(CALLS.ensure(collection, body))


class AsyncManagementClient:
    """Management calls for trio code over ``http`` (its ``base_url`` the controller's URL)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    def open(cls, url: str, *, verify: ssl.SSLContext, token: str | None = None,
             timeout_s: float = REQUEST_TIMEOUT_S) -> AsyncManagementClient:
        """A client of its own for the controller at ``url``; close it with ``async with`` or :meth:`aclose`."""
        import httpx

        return cls(httpx.AsyncClient(base_url=url, verify=verify, headers=_headers(token), timeout=timeout_s))

    @classmethod
    async def login(cls, url: str, *, verify: ssl.SSLContext, username: str, password: str,
                    timeout_s: float = REQUEST_TIMEOUT_S) -> AsyncManagementClient:
        """A client holding a new API session of ``username``."""
        async with cls.open(url, verify=verify, timeout_s=timeout_s) as anonymous:
            token = await anonymous.authenticate(username, password)
        return cls.open(url, verify=verify, token=token, timeout_s=timeout_s)

    @property
    def url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    async def __aenter__(self) -> AsyncManagementClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def run(self, call: Call[T]) -> T:
        """Drive one call of :class:`ManagementCalls` to its result."""
        import httpx

        try:
            method, path, kwargs = next(call)
            while True:
                try:
                    resp = await self.http.request(method, path, **kwargs)
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    raise unreachable(self.url, exc) from exc
                method, path, kwargs = call.send(resp)
        except StopIteration as done:
            result: T = done.value
            return result

    async def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
        return await self.run(CALLS.call(method, path, json=json, params=params))

    async def authenticate(self, username: str, password: str) -> str:
        return await self.run(CALLS.authenticate(username, password))

    async def create(self, collection: str, body: dict[str, Any]) -> str:
        return await self.run(CALLS.create(collection, body))

    async def get(self, collection: str, ident: str) -> dict[str, Any]:
        return await self.run(CALLS.get(collection, ident))

    async def patch(self, collection: str, ident: str, body: dict[str, Any]) -> None:
        await self.run(CALLS.patch(collection, ident, body))

    async def delete(self, collection: str, ident: str) -> None:
        await self.run(CALLS.delete(collection, ident))

    async def verify_ca(self, ident: str, cert_pem: str) -> None:
        await self.run(CALLS.verify_ca(ident, cert_pem))

    async def find_named(self, collection: str, name: str) -> dict[str, Any] | None:
        return await self.run(CALLS.find_named(collection, name))

    async def find(self, collection: str, id_or_name: str, *, label: str, named: bool = True) -> dict[str, Any]:
        return await self.run(CALLS.find(collection, id_or_name, label=label, named=named))

    async def ensure(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.run(CALLS.ensure(collection, body))
