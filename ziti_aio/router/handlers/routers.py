"""``ROUTERS``: the controller's list of online routers, which this router links with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ziti_aio.router.fabric.links import parse_peers
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.router.handlers.parts import RouterParts
    from ziti_aio.wire.frame import Message


async def routers(parts: RouterParts, msg: Message) -> None:
    parts.links.update_peers(parse_peers(ctrl.parse(msg)))
