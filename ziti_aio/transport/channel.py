"""Channel: framed messages over a TLS stream, with one reader task and request/reply.

Wraps the sans-I/O :class:`ChannelConnection`. Sends are serialised by a lock (sequence
order equals write order). :meth:`Channel.run` reads until the peer goes away, resolves
replies to :meth:`Channel.request`, answers latency probes, and hands every other message
to the handler *inline*: a handler that blocks (e.g. forwarding to a slow peer) stops this
channel's reading, which is what bounds memory. A handler must therefore never wait for a
reply on its own channel: start a task for that. A protocol error closes this channel only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio

from ziti_aio.common.errors import ChannelClosed, ChannelTimeout, ProtocolError
from ziti_aio.transport.locks import WriteLock
from ziti_aio.wire.channel import latency_reply
from ziti_aio.wire.connection import (
    ChannelConnection,
    HelloAccepted,
    HelloReceived,
    HelloRejected,
    MessageReceived,
    ReplyReceived,
)
from ziti_aio.wire.content import ChannelContentType
from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

RECEIVE_BYTES = 256 * 1024
HELLO_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 10.0

Handler = Callable[[Message], Awaitable[None]]
BatchHandler = Callable[[list[Message]], Awaitable[None]]


class PendingReply:
    """The reply a :meth:`Channel.request` waits for: ``message`` stays ``None`` if the channel closed."""

    __slots__ = ("done", "message")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.message: Message | None = None

    def resolve(self, message: Message | None) -> None:
        self.message = message
        self.done.set()


class Channel:
    """One open channel. Create with :func:`connect_channel` or :func:`accept_channel`."""

    def __init__(self, stream: trio.abc.Stream, conn: ChannelConnection, *, name: str = "") -> None:
        self.stream = stream
        self.name = name
        self._conn = conn
        self._send_lock = WriteLock()
        self._waiters: dict[int, PendingReply] = {}
        self.closed = trio.Event()

    async def send(self, msg: Message) -> None:
        """Send one message (assigning its sequence); :class:`ChannelClosed` if the peer is gone."""
        async with self._send_lock:
            if self.closed.is_set():
                raise ChannelClosed(f"channel {self.name} is closed")
            data = self._conn.send(msg)
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self.closed.set()
                raise ChannelClosed(f"channel {self.name} broke") from exc

    async def send_many(self, msgs: list[Message]) -> None:
        """Send several messages with one write, in order; :class:`ChannelClosed` if the peer is gone."""
        async with self._send_lock:
            if self.closed.is_set():
                raise ChannelClosed(f"channel {self.name} is closed")
            data = b"".join([part for msg in msgs for part in self._conn.send_parts(msg)])
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self.closed.set()
                raise ChannelClosed(f"channel {self.name} broke") from exc

    async def request(self, msg: Message, *, timeout_s: float = REQUEST_TIMEOUT_S) -> Message:
        """Send ``msg`` and wait for the message whose ReplyFor names it."""
        return await self.wait_reply(msg, await self.send_request(msg), timeout_s=timeout_s)

    async def send_request(self, msg: Message) -> PendingReply:
        """Send ``msg`` and expect its reply, without waiting for it: then :meth:`wait_reply`, or
        :meth:`forget_reply` (a reply arriving after that goes to the handler as a plain message)."""
        reply = PendingReply()
        async with self._send_lock:
            if self.closed.is_set():
                raise ChannelClosed(f"channel {self.name} is closed")
            data = self._conn.send_request(msg, now=trio.current_time(), timeout_s=math.inf)
            self._waiters[msg.sequence] = reply
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._waiters.pop(msg.sequence, None)
                self.closed.set()
                raise ChannelClosed(f"channel {self.name} broke") from exc
        return reply

    async def wait_reply(self, msg: Message, reply: PendingReply, *, timeout_s: float = REQUEST_TIMEOUT_S) -> Message:
        """The reply to ``msg`` (sent by :meth:`send_request`), waiting at most ``timeout_s``."""
        try:
            with trio.fail_after(timeout_s):
                await reply.done.wait()
        except trio.TooSlowError as exc:
            raise ChannelTimeout(f"no reply on channel {self.name} within {timeout_s} s") from exc
        finally:
            self.forget_reply(msg)
        if reply.message is None:
            raise ChannelClosed(f"channel {self.name} closed before the reply")
        return reply.message

    def forget_reply(self, msg: Message) -> None:
        """Stop expecting the reply to ``msg`` (one already in stays in its :class:`PendingReply`)."""
        if self._waiters.pop(msg.sequence, None) is not None:
            self._conn.cancel_request(msg.sequence)

    async def run(self, handler: Handler | None = None, *, batch_handler: BatchHandler | None = None) -> None:
        """Read until the peer closes or misbehaves; then close the stream.

        Messages go to ``handler`` one by one, or with ``batch_handler`` as one list per read
        (everything that one read from the socket completed, in order), so a relay can pass
        them on with one write. A :class:`ProtocolError` from the peer's bytes or the handler
        closes this channel and is logged, not raised: one bad connection never takes a role down.
        """
        if (handler is None) == (batch_handler is None):
            raise TypeError("give exactly one of handler and batch_handler")
        try:
            await self._read_loop(handler, batch_handler)
        except ProtocolError as exc:
            log.warning("closing channel %s: %s", self.name, exc.message)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ChannelClosed):
            pass
        finally:
            self.closed.set()
            for waiter in list(self._waiters.values()):
                waiter.resolve(None)
            self._waiters.clear()
            await trio.aclose_forcefully(self.stream)

    async def _read_loop(self, handler: Handler | None, batch_handler: BatchHandler | None) -> None:
        batch: list[Message] = []
        while True:
            # Drain first: the handshake may have read messages that followed the hello.
            while (event := self._conn.next_event()) is not None:
                if isinstance(event, ReplyReceived):
                    waiter = self._waiters.pop(event.request_sequence, None)
                    if waiter is not None:
                        waiter.resolve(event.message)
                        continue
                    msg = event.message
                elif isinstance(event, MessageReceived):
                    msg = event.message
                else:
                    raise ProtocolError(f"unexpected {type(event).__name__} on an open channel")
                if msg.content_type == ChannelContentType.LATENCY:
                    await self.send(latency_reply(msg))
                    continue
                if handler is not None:
                    await handler(msg)
                else:
                    batch.append(msg)
            if batch:
                assert batch_handler is not None
                await batch_handler(batch)
                batch = []
            data = await self.stream.receive_some(RECEIVE_BYTES)
            if not data:
                return
            self._conn.receive_data(bytes(data))  # a no-op for the bytes TlsStream returns

    async def aclose(self) -> None:
        """Close the stream; the reader (if running) ends."""
        self.closed.set()
        await trio.aclose_forcefully(self.stream)


@asynccontextmanager
async def _handshaking(stream: trio.abc.Stream, name: str, timeout_s: float, what: str) -> AsyncIterator[None]:
    """Bound a hello exchange in time; on any failure close the stream and say what was missing."""
    try:
        with trio.fail_after(timeout_s):
            yield
    except trio.TooSlowError as exc:
        await trio.aclose_forcefully(stream)
        raise ChannelTimeout(f"{name}: no {what} within {timeout_s} s") from exc
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        await trio.aclose_forcefully(stream)
        raise ChannelClosed(f"{name}: connection lost before the {what}") from exc
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise


async def _next_handshake_event(stream: trio.abc.Stream, conn: ChannelConnection, name: str) -> object:
    """Read until the handshake produces an event."""
    while (event := conn.next_event()) is None:
        data = await stream.receive_some(RECEIVE_BYTES)
        if not data:
            raise ChannelClosed(f"{name}: the peer closed during the hello")
        conn.receive_data(bytes(data))
    return event


async def connect_channel(stream: trio.abc.Stream, hello: Message, *, name: str = "",
                          timeout_s: float = HELLO_TIMEOUT_S) -> tuple[Channel, Message]:
    """Initiator: send ``hello`` and wait for a successful Result; returns the channel and the reply."""
    conn = ChannelConnection(initiator=True)
    async with _handshaking(stream, name, timeout_s, "hello reply"):
        await stream.send_all(conn.send_hello(hello, now=0.0, timeout_s=math.inf))
        event = await _next_handshake_event(stream, conn, name)
        if isinstance(event, HelloRejected):
            raise ChannelClosed(f"{name}: hello rejected: {event.reason}")
        assert isinstance(event, HelloAccepted)
        return Channel(stream, conn, name=name), event.reply


async def accept_channel(stream: trio.abc.Stream, check: Callable[[Message], Awaitable[Message]], *,
                         name: str = "", timeout_s: float = HELLO_TIMEOUT_S,
                         view_bodies_of: frozenset[int] = frozenset()) -> Channel:
    """Acceptor: read the hello, let ``check`` return the reply (or raise to refuse), open.

    ``check`` raising closes the stream without a reply (what makes libziti refresh its session).
    ``view_bodies_of``: content types whose large bodies arrive as views, not copies (a relay's;
    :class:`~ziti_aio.wire.frame.FrameDecoder`).
    """
    conn = ChannelConnection(initiator=False, view_bodies_of=view_bodies_of)
    async with _handshaking(stream, name, timeout_s, "hello"):
        event = await _next_handshake_event(stream, conn, name)
        assert isinstance(event, HelloReceived)
        reply = await check(event.message)
        await stream.send_all(conn.accept_hello(reply))
        return Channel(stream, conn, name=name)
