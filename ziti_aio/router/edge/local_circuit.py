"""A circuit whose both ends are SDK connections on this router, and the Data relay between them.

Data is forwarded inline from the reader of one SDK channel to the other channel, the frames
of one read in one write, bodies untouched (end-to-end encryption stays end to end). The inline send is
the flow control: a slow reader stops the sender's channel from being read, so the router never
buffers more than a frame per channel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ChannelError
from ziti_aio.wire import edge
from ziti_aio.wire.ctrl import CtrlType

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlNotifier
    from ziti_aio.router.edge.session import EdgeConn
    from ziti_aio.router.fabric.circuits import CircuitTable
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)


class LocalCircuit:
    """Dialer and hosted connection of one circuit; ``ready`` is set once the dialer got its
    StateConnected (the host's first Data, its crypto header, must not overtake it). Whoever
    sets it up registers it in ``circuits`` and with both connections; it forgets itself on close."""

    def __init__(self, circuit_id: str, dialer: EdgeConn, host: EdgeConn, *, circuits: CircuitTable,
                 ctrl: CtrlNotifier) -> None:
        self.id = circuit_id
        self.dialer = dialer
        self.host = host
        self.circuits = circuits
        self.ctrl = ctrl
        self.ready = trio.Event()
        self.closed = False

    def peer_of(self, conn: EdgeConn) -> EdgeConn:
        return self.host if conn is self.dialer else self.dialer

    async def forward(self, conn: EdgeConn, msgs: list[Message]) -> None:
        """Relay Data messages (FIN included) from ``conn`` to the other end, with one write."""
        if not self.ready.is_set():
            await self.ready.wait()
        if self.closed:
            return
        peer = self.peer_of(conn)
        size = sum(len(m.body) for m in msgs)
        rx, tx = ("ingress.rx", "egress.tx") if conn is self.dialer else ("egress.rx", "ingress.tx")
        self.circuits.usage.add(self.id, rx, size)
        self.circuits.usage.add(self.id, tx, size)
        try:
            await peer.sdk.channel.send_many([edge.relay_data(msg, peer.conn_id) for msg in msgs])
        except ChannelError:
            await self.close("the other end went away", origin=peer)

    async def close(self, reason: str, *, origin: EdgeConn | None = None, notify_ctrl: bool = True) -> None:
        """Tear down: forget both ends, send StateClosed to each end but ``origin`` (the end that
        closed), and tell the controller unless it asked for the close."""
        if self.closed:
            return
        self.closed = True
        self.ready.set()
        self.circuits.remove(self)
        for conn in (self.dialer, self.host):
            conn.sdk.forget(conn)
        log.info("circuit %s closed: %s", self.id, reason)
        for conn in (self.dialer, self.host):
            if conn is not origin:
                await conn.sdk.send_quietly(edge.state_closed(conn.conn_id, reason))
        if notify_ctrl:
            await self.ctrl.notify(CtrlType.CIRCUIT_CLOSED, id=self.id, reason=reason)
