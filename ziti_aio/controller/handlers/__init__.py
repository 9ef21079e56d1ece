"""Control-plane message handlers, one module per message family, and their dispatch table."""

from __future__ import annotations

from collections.abc import Callable

from ziti_aio.controller.handlers.circuits import circuit_closed, create_circuit
from ziti_aio.controller.handlers.links import link_down, link_metrics, link_up
from ziti_aio.controller.handlers.router_model import model_snapshot_request
from ziti_aio.controller.handlers.terminators import create_terminator, remove_terminator
from ziti_aio.controller.handlers.usage import usage_report
from ziti_aio.controller.network.network import Network
from ziti_aio.controller.network.routers import ConnectedRouter
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.frame import Message

CtrlHandler = Callable[[Network, ConnectedRouter, Message], Message | None]

HANDLERS: dict[int, CtrlHandler] = {
    CtrlType.CREATE_TERMINATOR: create_terminator,
    CtrlType.REMOVE_TERMINATOR: remove_terminator,
    CtrlType.CREATE_CIRCUIT: create_circuit,
    CtrlType.CIRCUIT_CLOSED: circuit_closed,
    CtrlType.LINK_UP: link_up,
    CtrlType.LINK_DOWN: link_down,
    CtrlType.LINK_METRICS: link_metrics,
    CtrlType.METRICS: usage_report,
    CtrlType.MODEL_SNAPSHOT_REQUEST: model_snapshot_request,
}
