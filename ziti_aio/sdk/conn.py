"""A connection over the overlay as a trio :class:`~trio.abc.HalfCloseableStream`, plain or e2e encrypted.

Outbound: at most 64 KiB of plaintext per Data (one secretstream push each when encrypted,
after our 24-byte header), FIN on :meth:`ZitiStream.send_eof`, StateClosed on
:meth:`ZitiStream.aclose`. Inbound: the router channel's reader queues this conn's messages;
:meth:`ZitiStream.receive_some` returns ``b""`` after the peer's FIN and raises
:class:`trio.BrokenResourceError` when the connection ends without one (StateClosed, a lost
router channel, a failed decryption): a cut stream never looks like a complete one.

This holds after our own FIN too. A libziti 0.29.3 peer that has received our FIN ends its
side with StateClosed instead of FIN (zitilib closes the connection once both directions
are done), and that StateClosed can overtake the Data it still had queued (seen: 16 MiB
echoed, the tail lost). Such an end is reported as broken, because it may be.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from typing import TYPE_CHECKING, cast

import trio

from ziti_aio.common.errors import ChannelError
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.e2e import SecretStreamReceiver, SecretStreamSender, SessionKeys, split_plaintext
from ziti_aio.wire.errors import WireProtocolError

if TYPE_CHECKING:
    from ziti_aio.sdk.router_channel import RouterChannel
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0
SEND_BATCH_MESSAGES = 4  # Data messages per TLS write: 256 KiB of plaintext
DEFAULT_RECEIVE_BYTES = 256 * 1024


class ZitiStream(trio.abc.HalfCloseableStream):
    """One overlay connection on ``router`` as ``conn_id``; made by ``dial`` and ``accept``.

    ``keys`` turns on end-to-end encryption: :meth:`start` sends our stream header, and the
    peer's first Data must be its header. ``app_data`` is what the dialer attached to its
    dial (on accepted streams; e.g. a tunneler's intercepted destination as JSON).
    """

    def __init__(self, router: RouterChannel, conn_id: int, inbound: trio.MemoryReceiveChannel[Message], *,
                 service: str, peer: str, keys: SessionKeys | None = None, app_data: bytes | None = None) -> None:
        self.router = router
        self.conn_id = conn_id
        self.service = service
        self.peer = peer
        self.app_data = app_data
        self._inbound = inbound
        self._seq = itertools.count(1)
        self._rx_key = None if keys is None else keys.rx
        self._sealer = None if keys is None else SecretStreamSender(keys.tx)
        self._opener: SecretStreamReceiver | None = None
        self._pending = memoryview(b"")
        self._eof_received = False
        self._eof_sent = False
        self._closed = False
        self._broken: str | None = None
        self._sending = False
        self._receiving = False

    @property
    def encrypted(self) -> bool:
        return self._sealer is not None

    def __repr__(self) -> str:
        return f"<ZitiStream {self.service} conn {self.conn_id} via {self.router.url}>"

    async def start(self) -> None:
        """Send our secretstream header (encrypted connections); call once the conn is connected."""
        if self._sealer is not None:
            await self._send(edge.data(self.conn_id, self._sealer.header(), seq=next(self._seq)))

    async def _send(self, msg: Message) -> None:
        await self._send_many([msg])

    async def _send_many(self, msgs: list[Message]) -> None:
        try:
            await self.router.send_many(msgs)
        except ChannelError as exc:
            raise trio.BrokenResourceError(f"{self}: router channel lost: {exc.message}") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError(f"{self} is closed")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` as Data messages of at most 64 KiB of plaintext each."""
        self._check_open()
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        if self._eof_sent:
            raise trio.ClosedResourceError(f"{self}: send_eof was called")
        self._sending = True
        try:
            if self._broken is not None:
                raise trio.BrokenResourceError(f"{self}: {self._broken}")
            if not len(data):
                await trio.lowlevel.checkpoint()  # otherwise the channel's write is the checkpoint
            batch: list[Message] = []
            # Slices of a memoryview copy nothing; the wire functions only slice and measure their input.
            for chunk in split_plaintext(cast("bytes", memoryview(data).cast("B"))):
                body = chunk if self._sealer is None else self._sealer.push(chunk)
                batch.append(edge.data(self.conn_id, body, seq=next(self._seq)))
                if len(batch) == SEND_BATCH_MESSAGES:
                    await self._send_many(batch)
                    batch = []
            if batch:
                await self._send_many(batch)
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        """Half close: send FIN; receiving continues until the peer's FIN or close."""
        self._check_open()
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        if self._eof_sent:
            await trio.lowlevel.checkpoint()
            return
        self._eof_sent = True
        await self._send(edge.fin(self.conn_id, seq=next(self._seq)))

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """The next bytes from the peer; ``b""`` after its FIN; BrokenResourceError if cut short."""
        self._check_open()
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this stream")
        self._receiving = True
        try:
            while not self._pending:
                if self._eof_received:
                    await trio.lowlevel.checkpoint()
                    return b""
                self._pending = memoryview(await self._next_payload())
            if max_bytes is None:
                max_bytes = DEFAULT_RECEIVE_BYTES
            if len(self._pending) < max_bytes:
                self._take_queued(max_bytes)
            if max_bytes >= len(self._pending):
                out, self._pending = self._pending, memoryview(b"")
            else:
                out, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
            whole = out.obj
            return whole if isinstance(whole, bytes) and len(whole) == len(out) else bytes(out)
        finally:
            self._receiving = False

    def _take_queued(self, max_bytes: int) -> None:
        """Append the plaintext of Data already queued to ``_pending``, up to about ``max_bytes``,
        so one read (and the write that usually follows it) carries several messages. A close or
        an error met here is kept for the next call, after the data before it is returned."""
        parts, total = [self._pending], len(self._pending)
        while total < max_bytes and not self._eof_received and self._broken is None:
            try:
                msg = self._inbound.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            try:
                more = self._open(msg)
            except trio.BrokenResourceError:
                break
            if more:
                parts.append(memoryview(more))
                total += len(more)
        if len(parts) > 1:
            self._pending = memoryview(b"".join(parts))

    async def _next_payload(self) -> bytes:
        """Plaintext of the next Data; ``b""`` after setting EOF; raises if the conn ended badly."""
        if self._broken is not None:
            raise trio.BrokenResourceError(f"{self}: {self._broken}")
        try:
            msg = await self._inbound.receive()
        except trio.EndOfChannel:
            raise self._break("the router channel was lost") from None
        return self._open(msg)

    def _open(self, msg: Message) -> bytes:
        """Plaintext of one queued message; ``b""`` for the stream header, a FIN (EOF set) or others."""
        if msg.content_type == EdgeContentType.STATE_CLOSED:
            reason = edge.parse_state_closed(msg).reason or "no reason given"
            raise self._break(f"closed by the peer without a FIN ({reason})")
        if msg.content_type != EdgeContentType.DATA:
            log.debug("%s: ignoring content type %d", self, msg.content_type)
            return b""
        try:
            data = edge.parse_data(msg)
            if data.is_fin:
                self._eof_received = True
                return b""
            if self._rx_key is None:
                return data.payload
            if self._opener is None:
                self._opener = SecretStreamReceiver(self._rx_key, data.payload)
                return b""
            return self._opener.pull(data.payload)[0]
        except WireProtocolError as exc:
            raise self._break(f"bad data from the peer: {exc.message}") from exc

    def _break(self, reason: str) -> trio.BrokenResourceError:
        self._broken = reason
        return trio.BrokenResourceError(f"{self}: {reason}")

    async def aclose(self) -> None:
        """Send StateClosed (best effort, bounded wait) and release this conn's queue."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        self.router.unregister_conn(self.conn_id)
        self._inbound.close()
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT_S), contextlib.suppress(ChannelError):
            await self.router.send(edge.state_closed(self.conn_id, seq=next(self._seq)))
