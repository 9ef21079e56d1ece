"""A cluster member's part in keeping routers connected to every member (docs/ha.md, "Routers and the
cluster"): the members' control channel addresses go out in every hello reply (``ctrlEndpoints``) and, when
they change (a member added or removed), in a ``CTRL_ENDPOINTS`` message to every connected router."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.network.network import Network

ENDPOINTS_CHECK_S = 1.0


async def push_endpoints(network: Network, interval_s: float = ENDPOINTS_CHECK_S) -> None:
    """Every ``interval_s``: if the members' addresses changed, tell every connected router."""
    last = network.ctrl_endpoints() if network.ctrl_endpoints is not None else []
    while True:
        await trio.sleep(interval_s)
        now = network.ctrl_endpoints() if network.ctrl_endpoints is not None else []
        if now != last:
            last = now
            msg = ctrl.message(ctrl.CtrlType.CTRL_ENDPOINTS, ctrlEndpoints=now)
            for router in network.routers:
                router.push(msg)
