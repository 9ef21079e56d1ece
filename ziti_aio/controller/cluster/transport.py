"""pysyncobj's transport, ours: trio mTLS connections between members named by their certificates.

Each member dials every other member for what it sends and accepts their connections for what it
receives (two one-way connections per pair). Both ends verify the other's certificate against the
cluster's CA, and the peer's SPIFFE id must name a member (``spiffe://<trust domain>/controller/<id>``):
anything else is closed before a byte of Raft is read. pysyncobj calls :meth:`send` from inside
``doTick`` on the trio thread; it only queues an encoded frame for the peer's sender task. A peer
whose queue is full is cut (it reconnects and Raft re-sends what it missed).

Non-voting members are pysyncobj's "read-only nodes": every voter dials them too (whoever leads sends
them the log), announces on each such connection that they do not vote, and reports them to pysyncobj
as read-only; of what a non-voter sends, only its answers to appends are passed on (docs/ha.md).

A member whose process died is noticed at once, not an election timeout later: the kernel closes its
sockets, the sending side reads the end of its connection (nothing else ever arrives on it), redials
at once and is refused; ``unreachable(node)`` then tells the replica (docs/ha.md, "Failover").
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio
from pysyncobj.transport import Transport

from ziti_aio.common.errors import ChannelClosed, ChannelTimeout, ProtocolError
from ziti_aio.controller.cluster.codec import (
    HEADER,
    READ_INDEX,
    ClusterNode,
    decode_message,
    encode_message,
    frame_length,
    non_voter_hello,
)
from ziti_aio.pki.names import spiffe_uris
from ziti_aio.transport.tls import open_tls, peer_certificate

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Iterable

    from ziti_aio.transport.tls_stream import TlsStream

log = logging.getLogger(__name__)

SEND_QUEUE_FRAMES = 4096
RECONNECT_DELAY_S = 0.1
DIAL_TIMEOUT_S = 2.0


def member_id(stream: TlsStream, trust_domain: str) -> str:
    """The controller id in the verified peer certificate's SPIFFE id; :class:`ProtocolError` if none."""
    cert = peer_certificate(stream)
    prefix = f"spiffe://{trust_domain}/controller/"
    for uri in spiffe_uris(cert) if cert is not None else ():
        if uri.startswith(prefix) and "/" not in uri[len(prefix):] and uri[len(prefix):]:
            return uri[len(prefix):]
    raise ProtocolError(f"the peer's certificate names no controller of trust domain {trust_domain}")


class _Peer:
    """The sending side towards one member: a queue of frames and the task that dials and writes."""

    def __init__(self, node: ClusterNode, *, voter: bool) -> None:
        self.node = node
        self.voter = voter
        self.send_channel, self.receive_channel = trio.open_memory_channel[bytes](SEND_QUEUE_FRAMES)
        self.connected = False
        self.cancel = trio.CancelScope()  # the whole task (the member was removed)
        self.connection = trio.CancelScope()  # the current connection (it is redialed)


class TrioTransport(Transport):  # type: ignore[misc]
    """Frames over mTLS; ``nudge`` is called after each received message so the ticker runs soon."""

    def __init__(self, self_node: ClusterNode, others: Iterable[ClusterNode], *, trust_domain: str,
                 client_ssl: ssl.SSLContext, nudge: Callable[[], None],
                 unreachable: Callable[[ClusterNode], None] = lambda _node: None) -> None:
        super().__init__(None, self_node, list(others))
        self.self_node = self_node
        self.trust_domain = trust_domain
        self.client_ssl = client_ssl
        self.nudge = nudge
        self.unreachable = unreachable
        self.peers: dict[str, _Peer] = {}
        self.known: dict[str, ClusterNode] = {n.id: n for n in others}
        self.non_voters: set[str] = set()
        """Ids in :attr:`known` of the members that do not vote."""
        self._nursery: trio.Nursery | None = None

    # --- pysyncobj's interface (called on the trio thread, inside doTick) --------------------

    def addNode(self, node: ClusterNode) -> None:
        """A voter joined (a non-voter among them was promoted)."""
        self.known[node.id] = node
        self.non_voters.discard(node.id)
        self._restart_peer(node)

    def dropNode(self, node: ClusterNode) -> None:
        """A voter left (pysyncobj also drops a voter that became a non-voter: that one stays)."""
        if node.id in self.non_voters:
            return
        self.known.pop(node.id, None)
        peer = self.peers.pop(node.id, None)
        if peer is not None:
            peer.cancel.cancel()

    # --- non-voting members (called when their log entries are applied) ---------------------

    def add_non_voter(self, node: ClusterNode) -> None:
        """Member ``node`` does not vote (it joined as a non-voter, or a voter was demoted)."""
        self.known[node.id] = node
        self.non_voters.add(node.id)
        self._restart_peer(node)

    def drop_non_voter(self, ident: str) -> None:
        """Non-voting member ``ident`` left (nothing if it votes by now)."""
        if ident not in self.non_voters:
            return
        self.non_voters.discard(ident)
        self.known.pop(ident, None)
        peer = self.peers.pop(ident, None)
        if peer is not None:
            self._retire(peer)

    def _restart_peer(self, node: ClusterNode) -> None:
        peer = self.peers.get(node.id)
        voter = node.id not in self.non_voters
        if peer is not None and peer.voter == voter:
            return
        if peer is not None:
            self._retire(peer)
        if self._nursery is not None:
            self._start_peer(node)
        else:
            self.peers.pop(node.id, None)

    def _retire(self, peer: _Peer) -> None:
        # Reported lost at once: a new connection in the other role may come up before the old
        # task sees its cancellation.
        self._lost(peer)
        peer.cancel.cancel()

    def send(self, node: ClusterNode, message: dict[str, Any]) -> bool:
        peer = self.peers.get(node.id)
        if peer is None or not peer.connected:
            return False
        try:
            frame = encode_message(message)
        except ProtocolError as exc:
            log.error("not sending to %s: %s", node.id, exc.message)
            return False
        try:
            peer.send_channel.send_nowait(frame)
        except trio.WouldBlock:
            log.warning("raft peer %s is not keeping up; reconnecting", node.id)
            self._lost(peer)
            peer.connection.cancel()
            return False
        return True

    # --- trio side ---------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Dial every known member until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for node in list(self.known.values()):
                self._start_peer(node)
            task_status.started()
            await trio.sleep_forever()

    def _start_peer(self, node: ClusterNode) -> None:
        assert self._nursery is not None
        peer = self.peers[node.id] = _Peer(node, voter=node.id not in self.non_voters)
        self._nursery.start_soon(self._send_loop, peer, name=f"raft to {node.id}")

    def _lost(self, peer: _Peer) -> None:
        if peer.connected:
            peer.connected = False
            if peer.voter:
                self._onNodeDisconnected(peer.node)
            else:
                self._onReadonlyNodeDisconnected(peer.node)
            self.nudge()

    async def _send_loop(self, peer: _Peer) -> None:
        with peer.cancel:
            was_connected = False  # and for long enough that redialing at once is no busy loop
            while True:
                host, port = peer.node.address.rsplit(":", 1)
                try:
                    stream = await open_tls(host.strip("[]"), int(port), self.client_ssl, timeout_s=DIAL_TIMEOUT_S)
                except (ChannelClosed, ChannelTimeout) as exc:
                    log.debug("raft peer %s unreachable: %s", peer.node.id, exc)
                    if was_connected and isinstance(exc, ChannelClosed):
                        self.unreachable(peer.node)  # connection ended and the port refuses: it is gone
                    was_connected = False
                    await trio.sleep(RECONNECT_DELAY_S)
                    continue
                opened = trio.current_time()
                try:
                    with trio.CancelScope() as peer.connection:
                        await self._write(peer, stream)
                except (trio.BrokenResourceError, trio.ClosedResourceError, ProtocolError) as exc:
                    log.info("raft connection to %s lost: %s", peer.node.id, exc)
                finally:
                    was_connected = peer.connected and trio.current_time() - opened >= RECONNECT_DELAY_S
                    self._lost(peer)
                    await trio.aclose_forcefully(stream)
                if not was_connected:
                    await trio.sleep(RECONNECT_DELAY_S)

    async def _write(self, peer: _Peer, stream: TlsStream) -> None:
        if member_id(stream, self.trust_domain) != peer.node.id:
            raise ProtocolError(f"the member at {peer.node.address} is not {peer.node.id}")
        while True:  # frames queued for the previous connection are stale: Raft re-sends
            try:
                peer.receive_channel.receive_nowait()
            except trio.WouldBlock:
                break
        if not peer.voter:
            await stream.send_all(non_voter_hello())
        peer.connected = True
        if peer.voter:
            self._onNodeConnected(peer.node)
        else:
            self._onReadonlyNodeConnected(peer.node)
        self.nudge()
        ended: BaseException | None = None
        async with trio.open_nursery() as nursery:
            async def watch() -> None:
                nonlocal ended
                try:
                    await stream.receive_some()  # the peer sends nothing here: data or not, it is over
                    ended = trio.BrokenResourceError("the member closed the connection")
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    ended = exc
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            try:
                await self._send_frames(peer, stream)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                ended = exc
            nursery.cancel_scope.cancel()
        if ended is not None:
            raise ended

    @staticmethod
    async def _send_frames(peer: _Peer, stream: TlsStream) -> None:
        while True:
            frame = await peer.receive_channel.receive()
            batch = [frame]
            while len(batch) < 256:
                try:
                    batch.append(peer.receive_channel.receive_nowait())
                except trio.WouldBlock:
                    break
            await stream.send_all(b"".join(batch))

    async def serve_peer(self, stream: TlsStream) -> None:
        """Read one member's messages until it closes or breaks the protocol (then close it)."""
        ident = member_id(stream, self.trust_domain)
        node = self.known.get(ident)
        if node is None and ident != self.self_node.id:
            raise ProtocolError(f"controller {ident} is not a member of this cluster")
        node = node or self.self_node
        buffer = bytearray()
        while True:
            while len(buffer) >= HEADER.size:
                length = frame_length(bytes(buffer[:HEADER.size]))
                if len(buffer) < HEADER.size + length:
                    break
                body = bytes(buffer[HEADER.size:HEADER.size + length])
                del buffer[:HEADER.size + length]
                message = decode_message(body)
                if ident not in self.known and ident != self.self_node.id:
                    raise ProtocolError(f"controller {ident} is no longer a member of this cluster")
                if ident not in self.non_voters or self._from_non_voter(ident, message):
                    self._onMessageReceived(node, message)
            self.nudge()
            try:
                chunk = await stream.receive_some()
            except trio.BrokenResourceError as exc:  # its process died: no close_notify (not our error)
                log.info("raft connection from %s ended: %s", ident, exc)
                return
            if not chunk:
                return
            buffer += chunk

    def _from_non_voter(self, ident: str, message: dict[str, Any]) -> bool:
        # A non-voter only answers appends; the leader knows it as read-only only while its own
        # connection to it is up (pysyncobj keeps no state for it otherwise).
        peer = self.peers.get(ident)
        if message["type"] == READ_INDEX:
            return True  # a non-voter serves reads too (docs/ha.md "Linearizable reads")
        return message["type"] == "next_node_idx" and peer is not None and not peer.voter and peer.connected

