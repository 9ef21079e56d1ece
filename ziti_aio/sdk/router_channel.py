"""One SDK channel to an edge router, and the demultiplexing of its edge messages by conn id.

The channel's single reader task hands Data, StateConnected and StateClosed to the bounded
memory channel of the connection named by header 1000, and Dial / StateClosed for a bind
conn id to the listener that registered it. Replies (ReplyFor) go to the waiting request.

Backpressure, and its price: when an application stops reading a connection, its queue
fills, the reader blocks on it, TCP stops being drained and the router stops sending on
this channel. That is what bounds memory, and it also stalls the *other* connections that
share this router channel (head-of-line blocking) until the slow one is read or closed.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import trio

from ziti_aio.common.errors import ChannelClosed, ChannelError, ConfigError
from ziti_aio.transport.channel import Channel, connect_channel
from ziti_aio.transport.tls import open_tls
from ziti_aio.wire import channel as chmsg
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import Message
from ziti_aio.wire.headers import EdgeHeader, get_uint32

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

CONN_QUEUE_MESSAGES = 32
"""Inbound messages buffered per connection (32 x 64 KiB = 2 MiB from ziti-aio peers) before the reader blocks."""
LATENCY_INTERVAL_S = 60.0
LATENCY_TIMEOUT_S = 10.0
MAX_CHANNEL_NAME_CHARS = 36

BindHandler = Callable[["RouterChannel", Message], Awaitable[None]]

_ROUTED = frozenset({EdgeContentType.DATA, EdgeContentType.STATE_CONNECTED, EdgeContentType.STATE_CLOSED,
                     EdgeContentType.DIAL})


def parse_router_url(url: str) -> tuple[str, int]:
    """``tls://host:port`` -> ``(host, port)``."""
    parts = urlsplit(url)
    if parts.scheme != "tls" or not parts.hostname or parts.port is None:
        raise ConfigError(f"edge router address must be tls://host:port, got {url!r}")
    return parts.hostname, parts.port


class RouterChannel:
    """An open channel to one edge router; run :meth:`run` in a nursery to read it."""

    def __init__(self, channel: Channel, url: str, *, router_model: bool = False) -> None:
        self.channel = channel
        self.url = url
        self.router_model = router_model  # the router authorizes from its router model (docs/router-model.md)
        self.latency_s: float | None = None
        self._conns: dict[int, trio.MemorySendChannel[Message]] = {}
        self._binds: dict[int, BindHandler] = {}

    @property
    def closed(self) -> trio.Event:
        """Set once the channel is gone (closed by either side or broken)."""
        return self.channel.closed

    @property
    def usable(self) -> bool:
        return not self.closed.is_set()

    def register_conn(self, conn_id: int) -> trio.MemoryReceiveChannel[Message]:
        """Route this conn id's Data/StateConnected/StateClosed into a new bounded queue."""
        if not self.usable:
            raise ChannelClosed(f"channel to router {self.url} is closed")
        send, receive = trio.open_memory_channel[Message](CONN_QUEUE_MESSAGES)
        self._conns[conn_id] = send
        return receive

    def unregister_conn(self, conn_id: int) -> None:
        send = self._conns.pop(conn_id, None)
        if send is not None:
            send.close()

    def register_bind(self, conn_id: int, handler: BindHandler) -> None:
        """Route Dial and StateClosed for bind ``conn_id`` to ``handler`` (runs in the reader: no replies)."""
        self._binds[conn_id] = handler

    def unregister_bind(self, conn_id: int) -> None:
        self._binds.pop(conn_id, None)

    async def send(self, msg: Message) -> None:
        await self.channel.send(msg)

    async def send_many(self, msgs: list[Message]) -> None:
        """Send ``msgs`` in order with one TLS write."""
        await self.channel.send_many(msgs)

    async def request(self, msg: Message, *, timeout_s: float) -> Message:
        return await self.channel.request(msg, timeout_s=timeout_s)

    async def run(self) -> None:
        """Read (and probe latency) until the channel goes; then end every registered connection."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._probe_latency)
                await self.channel.run(self._handle)
                nursery.cancel_scope.cancel()
        finally:
            for send in self._conns.values():
                send.close()
            self._conns.clear()
            log.info("channel to router %s closed", self.url)

    async def _handle(self, msg: Message) -> None:
        if msg.content_type not in _ROUTED:
            log.debug("router %s: ignoring content type %d", self.url, msg.content_type)
            return
        conn_id = get_uint32(msg.headers, EdgeHeader.CONN_ID)
        if conn_id is None:
            raise WireProtocolError(f"edge message {msg.content_type} without a conn id")
        bind = self._binds.get(conn_id)
        if bind is not None:
            await bind(self, msg)
            return
        send = self._conns.get(conn_id)
        if send is None:
            log.debug("router %s: message %d for unknown conn %d dropped", self.url, msg.content_type, conn_id)
            return
        try:
            try:
                # Queue without a trip through the scheduler when there is room: the reader
                # yields once per read anyway, not once per message of the read.
                send.send_nowait(msg)
            except trio.WouldBlock:
                await send.send(msg)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            if self._conns.get(conn_id) is send:
                del self._conns[conn_id]

    async def _probe_latency(self) -> None:
        while True:
            started = trio.current_time()
            try:
                await self.request(chmsg.latency_probe(int(started * 1000)), timeout_s=LATENCY_TIMEOUT_S)
            except ChannelError as exc:
                log.debug("latency probe to %s failed: %s", self.url, exc.message)
            else:
                self.latency_s = trio.current_time() - started
            await trio.sleep(LATENCY_INTERVAL_S)

    async def aclose(self) -> None:
        await self.channel.aclose()


async def wait_any(events: Iterable[trio.Event]) -> None:
    """Return once any of ``events`` is set."""
    async with trio.open_nursery() as nursery:
        for event in events:
            nursery.start_soon(_cancel_when_set, event, nursery.cancel_scope)


async def _cancel_when_set(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def channel_name(counter: int) -> str:
    """The hello body: ``ziti-aio[n]@host``, at most 36 characters as libziti sends."""
    return f"ziti-aio[{counter}]@{socket.gethostname()}"[:MAX_CHANNEL_NAME_CHARS]


async def connect_router(url: str, ssl_context: ssl.SSLContext, token: str, name: str) -> RouterChannel:
    """TLS with the identity's certificate, then the hello carrying the API session token."""
    host, port = parse_router_url(url)
    stream = await open_tls(host, port, ssl_context)
    channel, reply = await connect_channel(stream, chmsg.hello(token, name), name=url)
    return RouterChannel(channel, url, router_model=chmsg.offers_router_model(reply))
