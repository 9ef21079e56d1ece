"""``GET /edge/management/v1/alerts``: the controller's recent alerts, newest first, for admins (ours: OpenZiti
keeps no alert history; docs/operations.md). The events are the ``alert`` events of docs/events.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import Blueprint, Response, request

from ziti_aio.common.errors import InvalidPagination, PermissionDenied
from ziti_aio.controller.api.app import caller
from ziti_aio.controller.api.envelope import ok

if TYPE_CHECKING:
    from ziti_aio.controller.api.app import ApiContext
    from ziti_aio.controller.events.bus import EventBus

ALERTS_PATH = "/alerts"


def alerts_blueprint(ctx: ApiContext, bus: EventBus) -> Blueprint:
    bp = Blueprint("alerts", __name__)

    @bp.get(ALERTS_PATH)
    async def recent_alerts() -> Response:
        if not caller(ctx).is_admin:
            raise PermissionDenied()
        raw = request.args.get("limit", "")
        limit = int(raw) if raw.isdigit() and int(raw) > 0 else None
        if raw and limit is None:
            raise InvalidPagination("limit must be a positive integer", field="limit", value=raw)
        return ok(bus.alerts.recent(limit), {"pagination": {"limit": limit or bus.alerts.kept, "offset": 0,
                                                            "totalCount": len(bus.alerts)}})

    return bp
