"""One event bus: publishing never blocks, each subscriber has its own bounded queue.

A subscriber whose queue is full loses the event and counts it; the next time its queue has room
it first receives an ``alert`` event saying how many it lost (docs/events.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.events_config import EVENT_TYPES
from ziti_aio.controller.events.types import AlertEvent, Event

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1024


class Subscription:
    """One subscriber's queue of events of the chosen types; iterate it (``async for``) to read."""

    def __init__(self, bus: EventBus, name: str, types: frozenset[str], size: int) -> None:
        self.bus, self.name, self.types = bus, name, types
        self._send, self._receive = trio.open_memory_channel[Event](size)
        self.delivered = 0
        self.dropped = 0  # ever
        self._unreported = 0  # dropped since the last alert

    def offer(self, event: Event) -> None:
        """Queue ``event`` now, or drop and count it."""
        stats = self._send.statistics()
        if self._unreported and stats.current_buffer_used + 2 <= stats.max_buffer_size:
            alert = AlertEvent(alert_source_type="eventSubscriber", alert_source_id=self.name, severity="warning",
                               message=f"subscriber {self.name} lost {self._unreported} event(s): it read too slowly",
                               details=[f"dropped={self._unreported}", f"droppedTotal={self.dropped}"],
                               event_src_id=self.bus.source_id)
            self._send.send_nowait(alert)
            self._unreported = 0
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            if not self._unreported:
                log.warning("event subscriber %s is full: dropping events", self.name)
            self.dropped += 1
            self._unreported += 1
        except trio.ClosedResourceError:
            pass
        else:
            self.delivered += 1

    @property
    def queued(self) -> int:
        return self._send.statistics().current_buffer_used

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def receive_nowait(self) -> Event:
        """The next queued event, or :class:`trio.WouldBlock`."""
        return self._receive.receive_nowait()

    def close(self) -> None:
        """Stop receiving events (a reader still gets the queued ones)."""
        self.bus.unsubscribe(self)
        self._send.close()


class EventBus:
    """Routes each published event to every subscriber of its type."""

    def __init__(self, source_id: str = "") -> None:
        self.source_id = source_id
        self._subscriptions: list[Subscription] = []

    def subscribe(self, name: str, types: Iterable[str] = EVENT_TYPES, *,
                  size: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        """A new subscription to ``types`` (each one of :data:`EVENT_TYPES`) with a queue of ``size`` events."""
        wanted = frozenset(types)
        unknown = sorted(wanted - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})")
        sub = Subscription(self, name, wanted, size)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions)

    def wants(self, namespace: str) -> bool:
        """Whether anyone subscribes to ``namespace`` (lets publishers skip building unwanted events)."""
        return any(namespace in s.types for s in self._subscriptions)

    def publish(self, event: Event) -> None:
        """Offer ``event`` to its subscribers; never blocks, never raises."""
        if not event.event_src_id:
            event.event_src_id = self.source_id
        for sub in self._subscriptions:
            if event.namespace in sub.types:
                sub.offer(event)
