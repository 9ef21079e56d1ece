"""A router asks for the router model again (it saw a gap in the event numbering)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.network.network import Network
    from ziti_aio.controller.network.routers import ConnectedRouter
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)


def model_snapshot_request(network: Network, router: ConnectedRouter, msg: Message) -> None:
    """Queue a snapshot for ``router`` behind whatever was already pushed to it."""
    ctrl.parse(msg)
    log.info("router %s asked for the router model", router.name)
    network.router_model.send_snapshot(router)
