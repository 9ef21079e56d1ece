"""One established link to another router: its channel, send queues, writer and heartbeat.

The link's reader never blocks on a slow peer: whatever the reader must send (probe replies,
transit payloads) goes into this link's queues without waiting. One writer task drains them,
priority messages (probes, acks) first, batching into one TLS write. Transit payloads that
find the data queue full are dropped (the circuit's ends retransmit); the circuit ends
themselves wait for room. A heartbeat probe every :data:`HEARTBEAT_INTERVAL_S` measures the
latency; no answer for :data:`LINK_DEAD_S` closes the link. Each answer is also kept as a sample (ns)
until the router's metrics report takes them (OpenZiti's ``link.<id>.latency`` histogram,
docs/events.md).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ChannelError, ProtocolError
from ziti_aio.wire import link as wire
from ziti_aio.wire.frame import Message
from ziti_aio.wire.link import LinkType

if TYPE_CHECKING:
    from ziti_aio.transport.channel import Channel

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 0.5
LINK_DEAD_S = 3.0
MAX_LATENCY_SAMPLES = 4096  # per report interval: the newest are kept
DATA_QUEUE_BYTES = 16 * 1024 * 1024
PRIORITY_QUEUE_MESSAGES = 8192
WRITE_BATCH_BYTES = 256 * 1024

LinkHandler = Callable[["RouterLink", Message], Awaitable[None]]


class RouterLink:
    """A link to router ``peer_id``; ``dialed`` when this router dialed it."""

    def __init__(self, link_id: str, peer_id: str, channel: Channel, *, dialed: bool) -> None:
        self.id = link_id
        self.peer_id = peer_id
        self.channel = channel
        self.dialed = dialed
        self.latency_ms: float | None = None
        self.latency_samples: deque[int] = deque(maxlen=MAX_LATENCY_SAMPLES)
        """Round trips (ns) measured since the last metrics report took them."""
        self._priority: deque[Message] = deque()
        self._data: deque[Message] = deque()
        self._data_bytes = 0
        self._wake = trio.Event()
        self._room = trio.Event()
        self._last_answer = trio.current_time()

    def __repr__(self) -> str:
        return f"RouterLink({self.id} to {self.peer_id})"

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting in this link's queue."""
        return self._data_bytes

    def take_latency_samples(self) -> list[int]:
        """The round trips (ns) measured since the last call."""
        samples = list(self.latency_samples)
        self.latency_samples.clear()
        return samples

    @property
    def closed(self) -> bool:
        return self.channel.closed.is_set()

    def offer(self, msg: Message) -> bool:
        """Queue a transit message without waiting; ``False`` (dropped) when the queue is full."""
        if self.closed or self._data_bytes >= DATA_QUEUE_BYTES:
            return False
        self._push(self._data, msg)
        self._data_bytes += len(msg.body)
        return True

    async def put(self, msg: Message) -> None:
        """Queue a payload, waiting for room (a circuit end's own sends)."""
        while not self.closed and self._data_bytes >= DATA_QUEUE_BYTES:
            self._room = trio.Event() if self._room.is_set() else self._room
            await self._room.wait()
        self.offer(msg)

    def put_priority(self, msg: Message) -> None:
        """Queue a probe or an ack ahead of payloads (dropped if absurdly many are waiting)."""
        if not self.closed and len(self._priority) < PRIORITY_QUEUE_MESSAGES:
            self._push(self._priority, msg)

    def _push(self, queue: deque[Message], msg: Message) -> None:
        queue.append(msg)
        self._wake.set()

    async def run(self, handler: LinkHandler) -> None:
        """Read, write and probe until the link dies; then close it."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write)
            nursery.start_soon(self._heartbeat)
            await self.channel.run(lambda msg: self._handle(handler, msg))
            nursery.cancel_scope.cancel()
        await self.aclose()

    async def aclose(self) -> None:
        await self.channel.aclose()
        self._wake.set()
        self._room.set()

    async def _handle(self, handler: LinkHandler, msg: Message) -> None:
        ctype = msg.content_type
        if ctype == LinkType.PROBE:
            self.put_priority(wire.probe(wire.probe_time(msg), reply=True))
        elif ctype == LinkType.PROBE_REPLY:
            now = trio.current_time()
            round_trip_s = max(0.0, now - wire.probe_time(msg) / 1e9)
            self.latency_ms = round_trip_s * 1000
            self.latency_samples.append(int(round_trip_s * 1e9))
            self._last_answer = now
        elif ctype in (LinkType.PAYLOAD, LinkType.ACK):
            await handler(self, msg)
        else:
            raise ProtocolError(f"link {self.id}: unknown content type {ctype}")

    async def _write(self) -> None:
        try:
            while True:
                if not self._priority and not self._data:
                    self._wake = trio.Event()
                    await self._wake.wait()
                    continue
                batch: list[Message] = []
                size = 0
                while self._priority and len(batch) < 256:
                    batch.append(self._priority.popleft())
                while self._data and size < WRITE_BATCH_BYTES:
                    msg = self._data.popleft()
                    size += len(msg.body)
                    batch.append(msg)
                self._data_bytes -= size
                self._room.set()
                await self.channel.send_many(batch)
        except ChannelError:
            await self.aclose()

    async def _heartbeat(self) -> None:
        while True:
            now = trio.current_time()
            if now - self._last_answer > LINK_DEAD_S:
                log.warning("link %s to %s: no heartbeat answer for %.1f s, closing", self.id, self.peer_id,
                            now - self._last_answer)
                await self.aclose()
                return
            self.put_priority(wire.probe(int(now * 1e9)))
            await trio.sleep(HEARTBEAT_INTERVAL_S)
