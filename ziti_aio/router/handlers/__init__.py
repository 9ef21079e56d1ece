"""What the controller tells a router over the control channel, one module per message family,
and their dispatch table (as :mod:`ziti_aio.controller.handlers` on the other side)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ziti_aio.common.errors import ProtocolError
from ziti_aio.router.ctrl import CtrlChannel
from ziti_aio.router.fabric.links import parse_peers
from ziti_aio.router.handlers.parts import RouterParts
from ziti_aio.router.handlers.revocations import revocations, take_key
from ziti_aio.router.handlers.router_model import model_event, model_snapshot
from ziti_aio.router.handlers.routers import ctrl_endpoints, fault_link, routers
from ziti_aio.router.handlers.routes import close_circuit, route
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.frame import Message

CtrlHandler = Callable[[RouterParts, CtrlChannel, Message], Awaitable[None]]

HANDLERS: dict[int, CtrlHandler] = {
    CtrlType.REVOCATIONS: revocations,
    CtrlType.ROUTERS: routers,
    CtrlType.ROUTE: route,
    CtrlType.CLOSE_CIRCUIT: close_circuit,
    CtrlType.FAULT_LINK: fault_link,
    CtrlType.MODEL_SNAPSHOT: model_snapshot,
    CtrlType.MODEL_EVENT: model_event,
    CtrlType.CTRL_ENDPOINTS: ctrl_endpoints,
}


async def on_message(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    """One message from the controller at the other end of ``channel``, inline in its reader (an
    answer goes back on that channel)."""
    handler = HANDLERS.get(msg.content_type)
    if handler is None:
        raise ProtocolError(f"the controller sent unknown content type {msg.content_type}")
    await handler(parts, channel, msg)


async def on_connected(parts: RouterParts, channel: CtrlChannel, fields: dict[str, Any]) -> None:
    """A (re)connected control channel: take the key and revocations, re-create terminators on that
    controller, learn the routers to link with and report the links there are to it."""
    take_key(parts, fields)
    interval = fields.get("metricsIntervalS")
    if isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0:
        parts.circuits.usage.interval_s = float(interval)
    await parts.binds.reregister(parts.nursery, channel)
    parts.links.update_peers(parse_peers(fields))
    await parts.links.report_all(channel)
