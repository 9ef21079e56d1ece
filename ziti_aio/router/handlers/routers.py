"""``ROUTERS``: the controller's list of online routers, which this router links with; ``FAULT_LINK``:
close one link (it is dialed again); ``CTRL_ENDPOINTS``: the controllers of the cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ziti_aio.router.fabric.links import parse_peers
from ziti_aio.router.handlers.routes import MAX_ID_CHARS
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlChannel
    from ziti_aio.router.handlers.parts import RouterParts
    from ziti_aio.wire.frame import Message


async def routers(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    parts.links.update_peers(parse_peers(ctrl.parse(msg)))


async def ctrl_endpoints(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    """The cluster's members changed: connect to the new ones, leave those that left (docs/ha.md)."""
    await parts.ctrl.update_endpoints(ctrl.parse(msg).get("ctrlEndpoints"))


async def fault_link(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    link = parts.links.get(ctrl.string(ctrl.parse(msg), "id", max_length=MAX_ID_CHARS))
    if link is not None:
        parts.nursery.start_soon(link.aclose)
