"""The controller's HTTPS application: Edge Client and Management APIs on one port.

Everything here translates between HTTP and the model: parse and bound the request, find
the caller, call the model, render an OpenZiti envelope. Every error, including 404s and
oversized bodies, leaves as a JSON envelope: libziti cannot read anything else.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quart import Quart, Response, g, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from ziti_aio import __version__
from ziti_aio.common import api_paths
from ziti_aio.common.errors import (
    AuthError,
    BodyTooLarge,
    NotFoundError,
    UnsupportedMedia,
    ValidationError,
    ZitiError,
)
from ziti_aio.controller.api.envelope import error_response
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.metrics import ControllerMetrics
from ziti_aio.controller.model.access import Access, Caller, api_session_expiry_fields
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.views import RouterState, offline_router

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

    from cryptography import x509

    from ziti_aio.common.spa_config import SpaSite
    from ziti_aio.controller.cluster.replica import Replica
    from ziti_aio.controller.events.bus import EventBus
    from ziti_aio.controller.model.crud import Crud
    from ziti_aio.controller.model.enrollment_exchange import EnrollmentExchange
    from ziti_aio.controller.model.model import Model
    from ziti_aio.controller.network.network import Network

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
COLLECTIONS = frozenset(kind.value for kind in Kind)


@dataclass
class ApiContext:
    """What the REST layer needs from the controller."""

    model: Model
    crud: Crud
    access: Access
    enrollment_exchange: EnrollmentExchange
    cacerts_body: bytes
    instance_id: str
    base_url: str
    router_state: RouterState = offline_router
    network: Network | None = None
    events: EventBus | None = None
    # Adds a verified third-party CA (PEM) to the client certs the API's TLS accepts.
    trust_ca: Callable[[str], None] = field(default=lambda pem: None)
    version: str = field(default=f"v{__version__}")
    metrics: ControllerMetrics = field(default_factory=ControllerMetrics)
    # The TLS server certificate, whose key signs enrollment JWTs (GET /enroll/jwks, /controllers) and
    # whose expiry a health check watches.
    server_cert: x509.Certificate | None = None
    # The network JWT (GET /network-jwts), signed once on first use.
    network_jwt: Callable[[], str] | None = None
    # A CA's enrollment JWT (GET /cas/{id}/jwt), signed with the TLS server key.
    ca_jwt: Callable[[str], str] | None = None
    started_at: str = field(default_factory=now_text)
    # The web console at /console/ and single-page applications from directories (docs/console.md).
    console: bool = False
    spa: tuple[SpaSite, ...] = ()
    cluster: Replica | None = None
    """This controller's Raft replica when it is a cluster member (docs/ha.md)."""
    cluster_ssl: ssl.SSLContext | None = None
    """A member's HTTPS client context (its own certificate), for writes it forwards to the leader."""


def rewrite_legacy_path(path: str, served: tuple[str, ...] = ()) -> str:
    """OpenZiti's client-API path aliases, which libziti 0.29.3 relies on; paths under ``served`` (the console,
    SPAs) are left alone."""
    if any(path == prefix or path.startswith(prefix + "/") for prefix in served):
        return path
    if path in ("", "/", "/version"):
        return f"{api_paths.CLIENT}/version"
    if path.startswith("/.well-known/"):
        return api_paths.CLIENT + path
    if path.startswith(api_paths.LEGACY_CLIENT + "/") or path == api_paths.LEGACY_CLIENT:
        return api_paths.CLIENT + path[len(api_paths.LEGACY_CLIENT):]
    if not path.startswith(("/edge/", "/fabric/", "/.well-known/", "/health-checks", "/metrics", api_paths.OIDC + "/")):
        return api_paths.CLIENT + path
    return path


class LegacyPaths:
    """ASGI middleware applying :func:`rewrite_legacy_path` before routing."""

    def __init__(self, app: Any, served: tuple[str, ...] = ()) -> None:
        self.app = app
        self.served = served

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            new_path = rewrite_legacy_path(scope["path"], self.served)
            if new_path != scope["path"]:
                scope = {**scope, "path": new_path, "raw_path": new_path.encode()}
        await self.app(scope, receive, send)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a double")
    return value


async def read_json() -> Any:
    """The request body as JSON (``None`` when empty); bad JSON is a validation error, and so
    are NaN, Infinity and numbers too large for a double, which no JSON client could read back."""
    data = await request.get_data()
    if not data:
        return None
    try:
        return json.loads(data, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValidationError("the request body is not valid JSON", field="body") from exc


def bearer_token(headers: Any) -> str | None:
    """The token of an ``Authorization: Bearer`` header."""
    auth = headers.get("authorization", "")
    return auth[7:].strip() or None if auth.lower().startswith("bearer ") else None


def session_token(headers: Any) -> str | None:
    """The API session token of a request's (or websocket handshake's) ``zt-session`` or
    ``Authorization: Bearer`` header."""
    token: str | None = headers.get("zt-session")
    if not token:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
    return token


def caller(ctx: ApiContext, *, allow_partial: bool = False) -> Caller:
    """The authenticated caller, from ``zt-session`` or ``Authorization: Bearer``; an API session still
    waiting for its TOTP code only where ``allow_partial`` (docs/mfa.md §2)."""
    found = ctx.access.resolve(session_token(request.headers), allow_partial=allow_partial)
    g.caller = found
    return found


def _count(metrics: ControllerMetrics, status: int) -> None:
    """Metrics of the answered request: its route template (never the path a caller typed) and, for a
    login, its method and outcome."""
    rule = request.url_rule.rule if request.url_rule is not None else None
    name = (request.view_args or {}).get("name")
    if rule is not None and name in COLLECTIONS:
        # the generic management routes: the collection is part of the route (a closed set of names)
        rule = rule.replace("<name>", name)
    metrics.request(request.method, rule, status, time.perf_counter() - g.get("started", time.perf_counter()))
    if rule is not None and rule.endswith("/authenticate") and request.method == "POST":
        metrics.login(request.args.get("method", ""), status == 200)
    elif rule is not None and rule.endswith("/authenticate/mfa") and request.method == "POST":
        metrics.login("mfa", status == 200)


def new_request_id() -> str:
    """The ``requestId`` of an error envelope: drawn when an error is answered, not for every request."""
    return secrets.token_hex(8)


def create_app(ctx: ApiContext) -> Any:
    """The ASGI application serving both APIs (wrapped for legacy client paths)."""
    from ziti_aio.controller.api.alerts_routes import alerts_blueprint
    from ziti_aio.controller.api.client_routes import client_blueprint
    from ziti_aio.controller.api.database import DatabaseOps
    from ziti_aio.controller.api.events_routes import events_blueprint
    from ziti_aio.controller.api.ext_jwt_routes import ext_jwt_blueprint
    from ziti_aio.controller.api.fabric_routes import fabric_blueprint
    from ziti_aio.controller.api.forwarding import applied_index_header, forwarder
    from ziti_aio.controller.api.linearizable_reads import read_gate
    from ziti_aio.controller.api.management_actions_routes import management_actions_blueprint
    from ziti_aio.controller.api.management_routes import management_blueprint
    from ziti_aio.controller.api.mfa_routes import mfa_blueprint
    from ziti_aio.controller.api.network_routes import network_blueprint
    from ziti_aio.controller.api.ops_routes import ops_blueprint
    from ziti_aio.controller.api.posture_routes import posture_client_blueprint, posture_management_blueprint
    from ziti_aio.controller.oidc.routes import oidc_blueprint

    app: Quart = QuartTrio(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    # before the client blueprint: its /enroll/<method> would otherwise take /enroll/token
    app.register_blueprint(ext_jwt_blueprint(ctx), url_prefix=api_paths.CLIENT)
    app.register_blueprint(client_blueprint(ctx), url_prefix=api_paths.CLIENT)
    app.register_blueprint(posture_client_blueprint(ctx), url_prefix=api_paths.CLIENT)
    app.register_blueprint(posture_management_blueprint(ctx), url_prefix=api_paths.MANAGEMENT)
    database = DatabaseOps(ctx.model.store, ctx.model.flush_committed)
    app.register_blueprint(fabric_blueprint(ctx, database), url_prefix=api_paths.FABRIC)
    if ctx.network is not None:
        app.register_blueprint(network_blueprint(ctx, "network"), url_prefix=api_paths.MANAGEMENT)
        app.register_blueprint(network_blueprint(ctx, "fabric"), url_prefix=api_paths.FABRIC)
    app.register_blueprint(management_blueprint(ctx), url_prefix=api_paths.MANAGEMENT)
    app.register_blueprint(mfa_blueprint(ctx, "client-mfa", client=True), url_prefix=api_paths.CLIENT)
    app.register_blueprint(mfa_blueprint(ctx, "management-mfa", client=False), url_prefix=api_paths.MANAGEMENT)
    app.register_blueprint(management_actions_blueprint(ctx, database), url_prefix=api_paths.MANAGEMENT)
    app.register_blueprint(ops_blueprint(ctx))
    app.register_blueprint(oidc_blueprint(ctx), url_prefix=api_paths.OIDC)
    if ctx.events is not None:
        app.register_blueprint(events_blueprint(ctx, ctx.events))
        app.register_blueprint(alerts_blueprint(ctx, ctx.events), url_prefix=api_paths.MANAGEMENT)
    served = tuple(site.path for site in ctx.spa)
    if ctx.console:
        from ziti_aio.controller.console.routes import console_blueprint
        app.register_blueprint(console_blueprint(ctx, app))
        served += ("/console",)
    if ctx.spa:
        from ziti_aio.controller.console.spa import spa_blueprint
        for n, site in enumerate(ctx.spa):
            app.register_blueprint(spa_blueprint(site, n))

    @app.before_request
    async def _started() -> None:
        g.started = time.perf_counter()
        g.caller = None
        # Read the (size-capped) body before anything can refuse the request: an answer sent
        # while the client is still uploading makes the server drop the connection, and the
        # client then sees a broken pipe instead of our error envelope.
        await request.get_data()

    app.before_request(forwarder(ctx))  # a follower hands writes to the leader (docs/ha.md)
    before_read, after_read = read_gate(ctx)  # linearizable reads, if set (docs/ha.md)
    app.before_request(before_read)
    app.teardown_request(after_read)
    server_header = f"ziti-controller/{ctx.version}"

    @app.after_request
    async def _headers(response: Response) -> Response:
        response.headers["ziti-instance-id"] = ctx.instance_id
        response.headers["server"] = server_header
        found: Caller | None = g.get("caller")
        if found is not None:
            expiry = api_session_expiry_fields(ctx.access, found.api_session)
            response.headers["expiration-seconds"] = str(expiry["expirationSeconds"])
            response.headers["expires-at"] = expiry["expiresAt"]
        _count(ctx.metrics, response.status_code)
        applied_index_header(ctx, response)
        return response

    @app.errorhandler(ZitiError)
    async def _ziti_error(exc: ZitiError) -> Response:
        if isinstance(exc, AuthError):
            log.info("refused %s %s: %s", request.method, request.path, exc.code)
        return error_response(exc, new_request_id())

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        mapped: ZitiError
        if status == 404 or status == 405:
            mapped = NotFoundError(message=f"no such endpoint: {request.method} {request.path}")
        elif status == 413:
            mapped = BodyTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
        elif status == 415:
            mapped = UnsupportedMedia()
        else:
            mapped = ValidationError(exc.description or "bad request")
        return error_response(mapped, new_request_id())

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        log.error("unhandled error in %s %s", request.method, request.path, exc_info=exc)
        return error_response(ZitiError(), new_request_id())

    return LegacyPaths(app, served)
