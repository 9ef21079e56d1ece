"""Control messages about terminators: a router's SDK bound a service, or stopped hosting it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ziti_aio.controller.handlers.grants import MAX_ID_CHARS, grant
from ziti_aio.controller.model.records import MAX_COST
from ziti_aio.controller.network.terminators import PRECEDENCE_RANK, Terminator
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.network.network import Network
    from ziti_aio.controller.network.routers import ConnectedRouter
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)


def create_terminator(network: Network, router: ConnectedRouter, msg: Message) -> Message:
    """Record a terminator for a Bind the router verified (its session, or its router model); the grant
    must still hold."""
    data = ctrl.parse(msg)
    terminator_id = ctrl.string(data, "id", max_length=MAX_ID_CHARS)
    precedence = ctrl.string(data, "precedence", max_length=16, default="default")
    if precedence not in PRECEDENCE_RANK:
        precedence = "default"
    granted = grant(network.model, data, "Bind", network.router_model.posture)
    service = granted.service
    terminator = Terminator(
        id=terminator_id, service_id=service["id"], router_id=router.id,
        address=ctrl.string(data, "address", max_length=256),
        identity=ctrl.string(data, "identity", max_length=1024, default=""),
        cost=ctrl.integer(data, "cost", low=0, high=MAX_COST, default=0), precedence=precedence,
        identity_id=granted.identity["id"], session_id=granted.session_id,
    )
    network.terminators.add(terminator)
    log.info("terminator %s for service %s on router %s", terminator.id, service["name"], router.name)
    return ctrl.reply(msg, id=terminator.id)


def remove_terminator(network: Network, router: ConnectedRouter, msg: Message) -> None:
    """Forget a terminator of this router (its bind ended)."""
    data = ctrl.parse(msg)
    removed = network.terminators.remove(ctrl.string(data, "id", max_length=MAX_ID_CHARS), router.id)
    if removed is not None:
        log.info("terminator %s removed by router %s", removed.id, router.name)
