"""The dark management plane (docs/operations.md): with ``management = "overlay"`` the Management API
(with the Fabric API, ``/metrics`` and the event stream) is served only as a ziti service that the
controller binds with an identity of its own, through its own routers: the controller is an SDK client
of its own network. The TCP listener keeps the client API, enrollment, ``/health-checks`` and the
routers' control channel (SDKs and routers must reach the controller somewhere) and answers 404 for
management paths.

Each accepted ziti connection is served by hypercorn's per-connection HTTP server, into the same Quart
app as the TCP listener. A service policy decides who may dial the service: identities with the
``management-admins`` attribute, by default; the management API then still requires an admin's API
session, which a dialer gets by certificate login on the client API.
"""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.config import Config
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import wrap_app

from ziti_aio.common import api_paths
from ziti_aio.common.errors import NotFoundError
from ziti_aio.controller.api.envelope import error_payload
from ziti_aio.controller.kinds import Kind
from ziti_aio.sdk.context import open_context
from ziti_aio.sdk.enroll import enroll_identity

if TYPE_CHECKING:
    from pathlib import Path

    from ziti_aio.controller.api.app import ApiContext
    from ziti_aio.sdk.conn import ZitiStream

log = logging.getLogger(__name__)

DEFAULT_SERVICE = api_paths.MANAGEMENT_SERVICE
CONTROLLER_IDENTITY = "ziti-aio-controller"
ADMIN_ATTRIBUTE = "management-admins"
"""Identities with this role attribute may dial the management service (the default dial policy)."""
ACTOR = "controller"
MANAGEMENT_PREFIXES = (api_paths.MANAGEMENT, api_paths.FABRIC, "/metrics")
RETRY_S = 1.0


def is_management_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in MANAGEMENT_PREFIXES)


class HideManagement:
    """ASGI middleware of the TCP listener in dark mode: management paths answer 404 (an OpenZiti error
    envelope), websockets to them are refused; everything else goes to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or not is_management_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(error_payload(NotFoundError(message=f"no such endpoint: {scope['method']} {scope['path']}"
                                                              " (the management API is served over the overlay)"))
                          ).encode()
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


async def _ensure(ctx: ApiContext, kind: Kind, body: dict[str, Any]) -> str:
    """The id of the ``kind`` named ``body["name"]``, created from ``body`` when missing (never changed when
    present: an operator may have edited it)."""
    found = ctx.model.by_name(kind, body["name"])
    return str(found["id"]) if found is not None else await ctx.crud.create(kind, body, actor=ACTOR)


async def provision(ctx: ApiContext, service: str, identity_file: Path) -> None:
    """Create (once) the controller's identity, enrolled into ``identity_file``, the management service and its
    policies: the controller binds it, ``#management-admins`` dial it, both use every router."""
    identity = ctx.model.by_name(Kind.IDENTITIES, CONTROLLER_IDENTITY)
    if identity is None or not await trio.Path(identity_file).exists():
        if identity is not None:
            await ctx.crud.delete(Kind.IDENTITIES, identity["id"], actor=ACTOR)
        await trio.Path(identity_file).unlink(missing_ok=True)
        ident = await ctx.crud.create(Kind.IDENTITIES, {"name": CONTROLLER_IDENTITY, "type": "Service",
                                                        "isAdmin": False, "enrollment": {"ott": True}}, actor=ACTOR)
        [enrollment] = ctx.model.owned_by(Kind.ENROLLMENTS, ident)
        await trio.Path(identity_file.parent).mkdir(parents=True, exist_ok=True)
        await enroll_identity(enrollment["jwt"], identity_file)
    else:
        ident = identity["id"]
    svc = await _ensure(ctx, Kind.SERVICES, {"name": service, "encryptionRequired": True})
    await _ensure(ctx, Kind.SERVICE_POLICIES, {"name": f"{service}-bind", "type": "Bind", "semantic": "AnyOf",
                                                  "identityRoles": [f"@{ident}"], "serviceRoles": [f"@{svc}"]})
    await _ensure(ctx, Kind.SERVICE_POLICIES, {"name": f"{service}-dial", "type": "Dial", "semantic": "AnyOf",
                                                  "identityRoles": [f"#{ADMIN_ATTRIBUTE}"],
                                                  "serviceRoles": [f"@{svc}"]})
    await _ensure(ctx, Kind.EDGE_ROUTER_POLICIES, {"name": f"{service}-routers", "semantic": "AnyOf",
                                                      "identityRoles": [f"@{ident}", f"#{ADMIN_ATTRIBUTE}"],
                                                      "edgeRouterRoles": ["#all"]})
    await _ensure(ctx, Kind.SERVICE_EDGE_ROUTER_POLICIES, {"name": f"{service}-service-routers",
                                                              "serviceRoles": [f"@{svc}"],
                                                              "edgeRouterRoles": ["#all"]})


class _OverlaySocket:
    """What hypercorn reads of a connection's socket: an address family and the two ends' addresses."""

    family = socket.AF_INET

    def __init__(self, peer: str) -> None:
        self._peer = peer

    def getpeername(self) -> tuple[str, int]:
        return (self._peer or "overlay", 0)

    def getsockname(self) -> tuple[str, int]:
        return ("overlay", 0)


class _OverlayConnection(trio.abc.HalfCloseableStream):
    """A ziti connection as hypercorn's per-connection server takes a plain TCP stream."""

    def __init__(self, stream: ZitiStream) -> None:
        self._stream = stream
        self.socket = _OverlaySocket(getattr(stream, "peer", ""))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._stream.aclose()


def _config() -> Config:
    config = Config()
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_timeout = 30
    config.include_server_header = False
    return config


async def serve_overlay(app: Any, identity_file: Path, service: str) -> None:
    """Bind ``service`` as the identity in ``identity_file`` and serve ``app`` over every accepted connection,
    until cancelled; when the binding is lost (no router yet, a restart) bind again."""
    config = _config()
    wrapped = wrap_app(app, config.wsgi_max_body_size, None)
    context = WorkerContext(None)
    while True:
        try:
            async with open_context(identity_file) as ctx, trio.open_nursery() as nursery:
                listener = await ctx.bind(service)
                log.info("management API served over the overlay as service %s", service)
                while True:
                    stream = await listener.accept()
                    # hypercorn types the stream as TLS over TCP; it also serves plain streams (its non-TLS path)
                    server = TCPServer(wrapped, config, context, ConnectionState({}),
                                       _OverlayConnection(stream))  # type: ignore[arg-type]
                    nursery.start_soon(server.run)
        except Exception as exc:  # no router online yet, the binding closed: bind again shortly
            log.info("management service %s not bound (%s); retrying", service, getattr(exc, "message", exc))
        await trio.sleep(RETRY_S)


async def run_dark_plane(ctx: ApiContext, app: Any, home: Path, service: str) -> None:
    """Provision the management service (once) and serve it over the overlay until cancelled."""
    identity_file = home / "management" / f"{CONTROLLER_IDENTITY}.json"
    await provision(ctx, service, identity_file)
    await serve_overlay(app, identity_file, service)
