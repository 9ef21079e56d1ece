"""A router's usage report (``METRICS``): bytes per circuit and link in one interval (docs/events.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ziti_aio.controller.events.usage import parse_report
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.network.network import Network
    from ziti_aio.controller.network.routers import ConnectedRouter
    from ziti_aio.wire.frame import Message


def usage_report(network: Network, router: ConnectedRouter, msg: Message) -> None:
    network.usage_reported(router, parse_report(ctrl.parse(msg)))
