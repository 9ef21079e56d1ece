"""This router's end of a multi-hop circuit: an SDK connection here, the other end across links.

Each edge Data from the SDK becomes one payload (same body) with this end's next sequence
number; the SDK's reader waits while the window is full, which is the back-pressure a slow
reader at the far end exerts. Payloads from the far end are delivered in order by one task,
and acked when they arrive and again as they are delivered. Unacked payloads are resent when
the controller moves the circuit to another path, and when no ack made progress for
:data:`RETRANSMIT_AFTER_S`.

Closing: when this end's SDK closes, an in-band END payload follows its data, so the far end
delivers everything before its StateClosed and then reports the circuit closed; this end
forgets the circuit once END is acked (or after :data:`LINGER_S`). A close ordered by the
controller drops the circuit at once.

The terminator's end starts with a closed window: the initiator's end opens it with its first
ack once the dialer has its StateConnected, so the host's first Data cannot overtake it.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ChannelError
from ziti_aio.router.fabric.window import ReceiveWindow, SendWindow
from ziti_aio.wire import edge
from ziti_aio.wire import link as wire
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.link import XG_END, Ack, Payload

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlNotifier
    from ziti_aio.router.edge.session import EdgeConn
    from ziti_aio.router.fabric.circuits import CircuitTable
    from ziti_aio.router.fabric.forwarder import Forwarder
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

RETRANSMIT_AFTER_S = 2.0
ACK_INTERVAL_S = 0.01
"""At most one ack per circuit end this often (the first at once): under load one ack covers many
payloads instead of one each (a 64 MiB transfer: 95 acks, not 2,142), so transit routers carry
almost only payloads. The 4 MiB window holds far more than 10 ms of data, so the sender never
waits for an ack that is being held back."""
RETRANSMIT_CHECK_S = 0.5
DELIVER_BATCH = 8
LINGER_S = 30.0
MAX_REASON_BYTES = 1024


class RemoteEnd:
    """One end of circuit ``circuit_id``; ``origin`` says which (``wire.INITIATOR``/``TERMINATOR``).

    Whoever sets it up registers it in ``circuits`` (a linked end) and with ``conn``, then calls
    :meth:`start`; its tasks run in ``nursery`` (they outlive the SDK session's reader)."""

    def __init__(self, circuit_id: str, conn: EdgeConn, origin: int, *, peer_ready: bool, circuits: CircuitTable,
                 forwarder: Forwarder, ctrl: CtrlNotifier, nursery: trio.Nursery) -> None:
        self.id = circuit_id
        self.conn = conn
        self.origin = origin
        self.circuits = circuits
        self.forwarder = forwarder
        self.ctrl = ctrl
        self.nursery = nursery
        self.sending = SendWindow(peer_ready=peer_ready)
        self.receiving = ReceiveWindow()
        self.closed = False
        self.finished = False
        self._end_seq: int | None = None
        self._window = trio.Event()
        self._arrived = trio.Event()
        self._ack_due = trio.Event()
        self._scope = trio.CancelScope()
        self._last_progress = trio.current_time()
        self._sdk_side = "ingress" if origin == wire.INITIATOR else "egress"

    def start(self, *, ack: bool = False) -> None:
        """Run the delivery, ack and retransmit tasks; ``ack`` sends a first ack (opens the far window)."""
        self.nursery.start_soon(self._run)
        if ack:
            self._ack_due.set()

    async def _run(self) -> None:
        with self._scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._deliver)
                nursery.start_soon(self._send_acks)
                nursery.start_soon(self._retransmit_timer)

    # --- sending ----------------------------------------------------------------------------

    async def forward(self, conn: EdgeConn, msgs: list[Message]) -> None:
        """Data from this end's SDK (inline in its reader): for each, wait for the window, send."""
        for msg in msgs:
            while not self.closed and not self.sending.can_send():
                self._window = trio.Event()
                await self._window.wait()
            if self.closed:
                return
            self.circuits.usage.add(self.id, f"{self._sdk_side}.rx", len(msg.body))
            await self._send(wire.from_edge_data(msg, self.id, self.origin, self.sending.take_seq()))

    async def _send(self, payload: Payload) -> None:
        if not self.sending.unacked:
            self._last_progress = trio.current_time()
        self.sending.sent(payload)
        link = self.forwarder.next_link(self.id, self.origin)
        if link is not None:
            msg = wire.payload(payload)
            self.circuits.usage.add(self.id, "fabric.tx", len(msg.body))
            self.circuits.usage.link_tx(link.id, len(msg.body))
            await link.put(msg)

    async def resend(self) -> None:
        """Send every unacked payload again, and an ack (after a path change or a stall)."""
        self._ack_due.set()
        link = self.forwarder.next_link(self.id, self.origin)
        if link is None:
            return
        for payload in list(self.sending.unacked):
            await link.put(wire.payload(payload))

    def rerouted(self) -> None:
        if not self.finished:
            self.nursery.start_soon(self.resend)

    async def _retransmit_timer(self) -> None:
        while True:
            await trio.sleep(RETRANSMIT_CHECK_S)
            now = trio.current_time()
            if self.sending.unacked and now - self._last_progress > RETRANSMIT_AFTER_S:
                self._last_progress = now
                log.debug("circuit %s: no ack progress, resending %d payload(s)", self.id,
                          len(self.sending.unacked))
                await self.resend()

    # --- receiving (inline in a link's reader: never waits) ---------------------------------

    def on_payload(self, payload: Payload) -> None:
        if self.receiving.receive(payload):
            self._arrived.set()
        self._ack_due.set()

    def on_ack(self, ack: Ack) -> None:
        if self.sending.on_ack(ack.next_seq, ack.buffered):
            self._last_progress = trio.current_time()
        self._window.set()
        if self._end_seq is not None and self.sending.acked_seq > self._end_seq:
            self._finish(notify_ctrl=False)

    async def _send_acks(self) -> None:
        last = -ACK_INTERVAL_S
        while True:
            await self._ack_due.wait()
            hold = last + ACK_INTERVAL_S - trio.current_time()
            if hold > 0:
                await trio.sleep(hold)  # what arrives meanwhile rides on this ack
            self._ack_due = trio.Event()
            last = trio.current_time()
            link = self.forwarder.next_link(self.id, self.origin)
            if link is not None:
                link.put_priority(wire.ack(Ack(self.id, self.origin, self.receiving.next_seq,
                                               self.receiving.buffered)))

    async def _deliver(self) -> None:
        """Hand arrived payloads to the SDK in order, up to :data:`DELIVER_BATCH` per write."""
        while True:
            batch: list[Payload] = []
            end: Payload | None = None
            while len(batch) < DELIVER_BATCH and (payload := self.receiving.take()) is not None:
                if payload.is_end:
                    end = payload
                    break
                batch.append(payload)
            if batch:
                if not self.closed:
                    try:
                        await self.conn.sdk.channel.send_many(
                            [wire.to_edge_data(p, self.conn.conn_id) for p in batch])
                    except ChannelError:
                        await self.close("the other end went away", origin=self.conn)
                self.circuits.usage.add(self.id, f"{self._sdk_side}.tx", sum(len(p.body) for p in batch))
                for p in batch:
                    self.receiving.delivered(p)
                self._ack_due.set()
            if end is not None:
                await self._far_end_closed(end.body.decode("utf-8", errors="replace"))
                return
            if not batch:
                self._arrived = trio.Event()
                await self._arrived.wait()

    # --- closing ----------------------------------------------------------------------------

    async def _far_end_closed(self, reason: str) -> None:
        link = self.forwarder.next_link(self.id, self.origin)
        if link is not None:
            link.put_priority(wire.ack(Ack(self.id, self.origin, self.receiving.next_seq, 0)))
        if not self.closed:
            self.closed = True
            self.conn.sdk.forget(self.conn)
            await self.conn.sdk.send_quietly(edge.state_closed(self.conn.conn_id,
                                                               reason or "the peer closed the connection"))
        log.info("circuit %s closed by the far end: %s", self.id, reason)
        self._finish(notify_ctrl=True, reason=reason)

    async def close(self, reason: str, *, origin: EdgeConn | None = None, notify_ctrl: bool = True) -> None:
        """Close this end: StateClosed to the SDK unless it is ``origin``; END to the far end unless
        the controller ordered the close (``notify_ctrl=False``), which drops the circuit at once."""
        if self.closed:
            if not notify_ctrl:
                self._finish(notify_ctrl=False)
            return
        self.closed = True
        self._window.set()
        self.conn.sdk.forget(self.conn)
        log.info("circuit %s closed: %s", self.id, reason)
        if origin is not self.conn:
            await self.conn.sdk.send_quietly(edge.state_closed(self.conn.conn_id, reason))
        if not notify_ctrl:
            self._finish(notify_ctrl=False)
            return
        end = Payload(self.id, self.origin, self.sending.take_seq(), reason.encode()[:MAX_REASON_BYTES],
                      xg_flags=XG_END)
        self._end_seq = end.seq
        self.nursery.start_soon(self._linger, reason)
        await self._send(end)

    async def _linger(self, reason: str) -> None:
        await trio.sleep(LINGER_S)
        self._finish(notify_ctrl=True, reason=reason)

    def _finish(self, *, notify_ctrl: bool, reason: str = "closed") -> None:
        if self.finished:
            return
        self.finished = True
        self.closed = True
        self._window.set()
        self._scope.cancel()
        if self.circuits.remove(self):
            self.forwarder.remove_route(self.id)
        if notify_ctrl:
            self.nursery.start_soon(partial(self.ctrl.notify, CtrlType.CIRCUIT_CLOSED, id=self.id, reason=reason))
