"""Control messages about links: a router reports one up or gone, and the latencies it measured.

A router may only report links it is an end of; a report naming another router as the
reporter's end, or a link id another pair owns, is a lie and closes its control channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ziti_aio.common.errors import ProtocolError
from ziti_aio.controller.network.links import ReportedLink
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.network.network import Network
    from ziti_aio.controller.network.routers import ConnectedRouter
    from ziti_aio.wire.frame import Message

MAX_ID_CHARS = 64
MAX_LINKS_PER_REPORT = 10_000
MAX_LATENCY_MS = 3_600_000


def link_up(network: Network, router: ConnectedRouter, msg: Message) -> None:
    data = ctrl.parse(msg)
    link_id = ctrl.string(data, "id", max_length=MAX_ID_CHARS)
    src = ctrl.string(data, "src", max_length=MAX_ID_CHARS)
    dst = ctrl.string(data, "dst", max_length=MAX_ID_CHARS)
    if router.id not in (src, dst) or src == dst or not link_id:
        raise ProtocolError(f"router {router.name} reported a link it is not an end of")
    other = dst if src == router.id else src
    if network.routers.get(other) is None:
        network.link_to_offline_router(ReportedLink(link_id, src, dst))
        return
    known = network.link_up(ReportedLink(link_id, src, dst))
    if (known.src, known.dst) != (src, dst):
        raise ProtocolError(f"router {router.name} reported link {link_id} with other ends")


def link_down(network: Network, router: ConnectedRouter, msg: Message) -> None:
    data = ctrl.parse(msg)
    link_id = ctrl.string(data, "id", max_length=MAX_ID_CHARS)
    link = network.links.get(link_id)
    if link is not None and router.id in (link.src, link.dst):
        network.link_gone(link_id, ctrl.string(data, "reason", max_length=1024, default="reported down"))


def link_metrics(network: Network, router: ConnectedRouter, msg: Message) -> None:
    items = ctrl.parse(msg).get("links")
    if not isinstance(items, list) or len(items) > MAX_LINKS_PER_REPORT:
        raise ProtocolError(f"router {router.name} sent a malformed link report")
    for item in items:
        if not isinstance(item, dict):
            raise ProtocolError(f"router {router.name} sent a malformed link report")
        latency = item.get("latencyMs")
        if isinstance(latency, bool) or not isinstance(latency, int | float) or not 0 <= latency <= MAX_LATENCY_MS:
            raise ProtocolError(f"router {router.name} sent a bad link latency")
        link = network.links.get(ctrl.string(item, "id", max_length=MAX_ID_CHARS))
        if link is None:
            continue
        if router.id in (link.src, link.dst):
            network.link_latency(link, router.id, float(latency))
