"""The live event stream: a websocket at ``/edge/management/v1/events`` for admins (docs/events.md).

Each connection is one bus subscription to the types of its ``types=`` query (default: all). Each
text message holds the events that arrived within :data:`BATCH_DELAY_S` of its first, one JSON object
per line: a websocket message costs far more than encoding an event, so batching is what keeps the
stream's cost per event small. The server only sends; anything the client sends is a protocol
violation and ends the connection, as does a client that does not take a message within
:data:`SEND_TIMEOUT_S`. Either way only that connection is affected: the bus drops events for a full
subscriber instead of waiting.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio
from quart import Blueprint, Response, websocket

from ziti_aio.common import api_paths
from ziti_aio.common.errors import PermissionDenied, ValidationError, ZitiError
from ziti_aio.common.events_config import EVENT_TYPES
from ziti_aio.controller.api.app import session_token
from ziti_aio.controller.api.envelope import error_response
from ziti_aio.controller.events.types import json_lines

if TYPE_CHECKING:
    from ziti_aio.controller.api.app import ApiContext
    from ziti_aio.controller.events.bus import EventBus, Subscription

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 30.0
POLICY_VIOLATION = 1008
BATCH_DELAY_S = 0.1
MAX_BATCH = 1024


def requested_types(query: list[str]) -> tuple[str, ...]:
    """The event types of ``types=a,b`` (repeatable); all of them when absent."""
    wanted = [t.strip() for value in query for t in value.split(",") if t.strip()]
    for t in wanted:
        if t not in EVENT_TYPES:
            raise ValidationError(f"unknown event type {t!r} (known: {', '.join(EVENT_TYPES)})", field="types",
                                  value=t)
    return tuple(wanted) or EVENT_TYPES


def events_blueprint(ctx: ApiContext, bus: EventBus) -> Blueprint:
    bp = Blueprint("events", __name__)

    @bp.websocket(api_paths.EVENTS)
    async def stream() -> Response | None:
        try:
            found = ctx.access.resolve(session_token(websocket.headers))
            if not found.is_admin:
                raise PermissionDenied()
            types = requested_types(websocket.args.getlist("types"))
        except ZitiError as exc:
            return error_response(exc, None)  # refuses the handshake with an HTTP error envelope
        # subscribed before the handshake's answer: a client sees every event after it
        sub = bus.subscribe(f"websocket {found.identity['name']} {websocket.remote_addr}", types)
        try:
            await websocket.accept()
            await _serve(sub)
        finally:
            sub.close()
        return None

    return bp


async def _serve(sub: Subscription) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_refuse_input, nursery.cancel_scope, sub.name)
        while await sub.wait():
            await trio.sleep(BATCH_DELAY_S)
            lines = json_lines(sub.take(MAX_BATCH))
            with trio.move_on_after(SEND_TIMEOUT_S) as waited:
                await websocket.send(lines.decode())  # a text message
            if waited.cancelled_caught:
                log.info("event stream %s: not reading, closing it", sub.name)
                await _close(sub.name)
                break
        nursery.cancel_scope.cancel()


async def _refuse_input(scope: trio.CancelScope, name: str) -> None:
    await websocket.receive()
    log.info("event stream %s: the client sent data, closing it", name)
    await _close(name)
    scope.cancel()


async def _close(name: str) -> None:
    with trio.move_on_after(1):
        await websocket.close(POLICY_VIOLATION, "this stream takes no input")
