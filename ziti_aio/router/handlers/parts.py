"""The parts of one router that the controller's messages act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import trio

    from ziti_aio.router.ctrls import CtrlChannels
    from ziti_aio.router.edge.auth import Tokens
    from ziti_aio.router.edge.binds import Binds
    from ziti_aio.router.edge.dial import Dialer
    from ziti_aio.router.edge.sdks import SdkSessions
    from ziti_aio.router.fabric.circuits import CircuitTable
    from ziti_aio.router.fabric.forwarder import Forwarder
    from ziti_aio.router.fabric.links import LinkManager


@dataclass(frozen=True)
class RouterParts:
    """A router's parts, built and wired by :class:`ziti_aio.router.router.EdgeRouter`; tasks that
    outlive a message run in ``nursery``."""

    router_id: str
    nursery: trio.Nursery
    ctrl: CtrlChannels
    tokens: Tokens
    sdks: SdkSessions
    binds: Binds
    dialer: Dialer
    circuits: CircuitTable
    forwarder: Forwarder
    links: LinkManager
