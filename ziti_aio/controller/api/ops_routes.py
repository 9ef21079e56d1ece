"""Operations endpoints on the controller's HTTPS port: ``/health-checks`` and ``/metrics`` (docs/operations.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import Blueprint, Response, request

from ziti_aio.common.errors import AuthError, PermissionDenied
from ziti_aio.controller.api.app import caller
from ziti_aio.controller.api.common_routes import peer_fingerprint
from ziti_aio.controller.api.envelope import ok
from ziti_aio.controller.health import HealthChecks
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.metrics import CONTENT_TYPE
from ziti_aio.controller.model.disabling import is_disabled

if TYPE_CHECKING:
    from ziti_aio.controller.api.app import ApiContext

HEALTH_PATHS = ("/health-checks", "/health-checks/v1")
METRICS_PATH = "/metrics"


def ops_blueprint(ctx: ApiContext) -> Blueprint:
    """Health checks for anyone (load balancers ask without credentials); metrics for admins."""
    bp = Blueprint("ops", __name__)
    expires = ctx.server_cert.not_valid_after_utc if ctx.server_cert is not None else None
    checks = HealthChecks(ctx.model, ctx.network, expires, cluster=lambda: ctx.cluster)

    async def health() -> Response:
        result = await checks.run(short=request.args.get("type") == "short")
        return ok(result, status=200 if result["healthy"] else 503)

    for path in HEALTH_PATHS:
        bp.add_url_rule(path, f"health{path.count('/')}", health, methods=["GET"])

    @bp.get(METRICS_PATH)
    async def metrics() -> Response:
        _require_admin(ctx)
        return Response(ctx.metrics.exposition(), content_type=CONTENT_TYPE)

    return bp


def _require_admin(ctx: ApiContext) -> None:
    """An admin's API session token, or the client certificate of an admin identity (what a Prometheus
    scrape config can hold for good: sessions expire, certificates are renewed on a schedule)."""
    if request.headers.get("zt-session") or request.headers.get("authorization"):
        if not caller(ctx).is_admin:
            raise PermissionDenied()
        return
    auth = ctx.access.cert_authenticator(peer_fingerprint())
    identity = ctx.model.maybe(Kind.IDENTITIES, auth["identityId"])
    if identity is None or is_disabled(identity):
        raise AuthError()
    if not (identity.get("isAdmin") or identity.get("isDefaultAdmin")):
        raise PermissionDenied()
