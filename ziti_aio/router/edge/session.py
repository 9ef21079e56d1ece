"""One SDK's channel to this router: its edge messages, connection ids and binds.

Data and closes are handled inline in the channel's reader (so relaying is flow-controlled by
the receiving side); Connect and Bind, which wait for the controller or another SDK, run as
tasks in this session's nursery and die with it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ChannelError, InvalidSession, ProtocolError
from ziti_aio.router.edge.binds import bind, unbind
from ziti_aio.router.edge.conns import EdgeBind, EdgeConn
from ziti_aio.router.xgress.dial import dial
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType

if TYPE_CHECKING:
    from ziti_aio.router.auth import ApiSessionClaims
    from ziti_aio.router.dataplane import Dataplane
    from ziti_aio.transport.channel import Channel
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

MAX_CONNS_PER_SDK = 4096


class SdkSession:
    """State of one SDK channel, for the API session its hello proved."""

    def __init__(self, channel: Channel, claims: ApiSessionClaims, name: str, dataplane: Dataplane) -> None:
        self.channel = channel
        self.api_session_id = claims.api_session_id
        self.identity_id = claims.identity_id
        self.name = name
        self.dataplane = dataplane
        self.conns: dict[int, EdgeConn] = {}
        self.binds: dict[int, EdgeBind] = {}
        self._nursery: trio.Nursery | None = None

    async def run(self) -> None:
        """Serve the channel until it closes, then close every circuit and bind it had."""
        self.dataplane.sessions.add(self)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self.channel.run(batch_handler=self.handle_batch)
                nursery.cancel_scope.cancel()
        finally:
            self.dataplane.sessions.discard(self)
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self.shutdown("the SDK's channel closed", notify_sdk=False)

    async def shutdown(self, reason: str, *, notify_sdk: bool) -> None:
        """Close every connection (StateClosed to both ends, or only the far end) and every bind."""
        for conn in list(self.conns.values()):
            if conn.setup is not None:
                conn.setup.cancel()
            elif conn.circuit is not None:
                await conn.circuit.close(reason, origin=None if notify_sdk else conn)
        for b in list(self.binds.values()):
            await unbind(self.dataplane, b, reason if notify_sdk else None)

    async def terminate(self, reason: str) -> None:
        """Revoked: tell the SDK about every connection, then close its channel."""
        await self.shutdown(reason, notify_sdk=True)
        await self.channel.aclose()

    def forget(self, conn: EdgeConn) -> None:
        if self.conns.get(conn.conn_id) is conn:
            del self.conns[conn.conn_id]
        if conn.bind is not None:
            conn.bind.hosted.discard(conn)

    def adopt(self, conn_id: int, b: EdgeBind) -> EdgeConn | None:
        """Register a hosted connection the SDK accepted on ``b``; ``None`` if the id is taken."""
        if conn_id in self.conns or conn_id in self.binds:
            return None
        conn = EdgeConn(self, conn_id, b.session_id, bind=b)
        self.conns[conn_id] = conn
        b.hosted.add(conn)
        return conn

    async def send_quietly(self, msg: Message) -> None:
        """Send if the channel is still up; a gone SDK needs no notice."""
        with contextlib.suppress(ChannelError):
            await self.channel.send(msg)

    # --- inbound ----------------------------------------------------------------------------

    async def handle_batch(self, msgs: list[Message]) -> None:
        """Messages of one read, in order; consecutive Data of one connection are relayed together."""
        i = 0
        while i < len(msgs):
            if msgs[i].content_type != EdgeContentType.DATA:
                await self.handle(msgs[i])
                i += 1
                continue
            first = edge.parse_data(msgs[i])
            j = i + 1
            while j < len(msgs) and msgs[j].content_type == EdgeContentType.DATA \
                    and edge.parse_data(msgs[j]).conn_id == first.conn_id:
                j += 1
            await self._data(first.conn_id, msgs[i:j])
            i = j

    async def handle(self, msg: Message) -> None:
        """One message other than Data (:meth:`handle_batch` relays those)."""
        ctype = msg.content_type
        if ctype == EdgeContentType.CONNECT:
            await self._connect(msg)
        elif ctype == EdgeContentType.BIND:
            self._spawn(bind, self.dataplane, self, msg, edge.parse_bind(msg))
        elif ctype == EdgeContentType.STATE_CLOSED:
            await self._closed(edge.parse_state_closed(msg).conn_id)
        elif ctype == EdgeContentType.UNBIND:
            found = self.binds.get(edge.parse_unbind(msg).conn_id)
            if found is not None:
                await unbind(self.dataplane, found, None)
        elif ctype == EdgeContentType.DIAL_SUCCESS:
            late = edge.parse_dial_success(msg)
            if late.new_conn_id not in self.conns:
                await self.send_quietly(edge.state_closed(late.new_conn_id, "the dial was abandoned"))
        elif ctype in (EdgeContentType.DIAL_FAILED, EdgeContentType.STATE_CONNECTED):
            return
        else:
            raise ProtocolError(f"SDK {self.name} sent unsupported content type {ctype}")

    def _spawn(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        assert self._nursery is not None
        self._nursery.start_soon(fn, *args)

    async def _data(self, conn_id: int, msgs: list[Message]) -> None:
        """Data messages (already parsed once) of connection ``conn_id``, to its circuit."""
        conn = self.conns.get(conn_id)
        if conn is None:
            await self.channel.send(edge.state_closed(conn_id, "no such connection"))
            return
        if conn.circuit is None:
            log.info("SDK %s: dropped %d Data on conn %d, not connected yet", self.name, len(msgs), conn_id)
            return
        await conn.circuit.forward(conn, msgs)

    async def _connect(self, msg: Message) -> None:
        connect = edge.parse_connect(msg)
        if connect.conn_id in self.conns or connect.conn_id in self.binds or len(self.conns) >= MAX_CONNS_PER_SDK:
            await self.channel.send(edge.state_closed(connect.conn_id, "connection id in use or too many connections",
                                                      reply_for=msg.sequence))
            return
        verifier = self.dataplane.verifier
        try:
            if verifier is None:
                raise InvalidSession()
            claims = verifier.session(connect.token, self.api_session_id, "Dial")
        except InvalidSession as exc:
            reason = edge.INVALID_SESSION if exc.message == InvalidSession.default_message else exc.message
            await self.channel.send(edge.state_closed(connect.conn_id, reason, reply_for=msg.sequence))
            return
        conn = EdgeConn(self, connect.conn_id, claims.session_id)
        self.conns[connect.conn_id] = conn
        self._spawn(dial, self.dataplane, conn, msg, connect, claims.service_id)

    async def _closed(self, conn_id: int) -> None:
        conn = self.conns.get(conn_id)
        if conn is not None:
            if conn.setup is not None:
                conn.setup.cancel()
            elif conn.circuit is not None:
                await conn.circuit.close("the peer closed the connection", origin=conn)
            else:
                self.forget(conn)
            return
        found = self.binds.get(conn_id)
        if found is not None:
            await unbind(self.dataplane, found, None)
