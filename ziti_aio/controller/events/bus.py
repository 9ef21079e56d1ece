"""One event bus: publishing never blocks, each subscriber has its own bounded queue.

A subscriber whose queue is full loses the event and counts it; the next time its queue has room
it first receives an ``alert`` event saying how many it lost (docs/events.md).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.events_config import EVENT_TYPES
from ziti_aio.controller.events.alert_history import AlertHistory
from ziti_aio.controller.events.types import AlertEvent, Event

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1024


class Subscription:
    """One subscriber's queue of events of the chosen types; iterate it (``async for``) to read.

    A deque and a wake-up rather than a trio memory channel: publishing is on the controller's hot paths
    (two ``circuit`` events per dial), and the channel's send and its statistics cost several times the
    append (docs/events.md, "Cost")."""

    def __init__(self, bus: EventBus, name: str, types: frozenset[str], size: int) -> None:
        self.bus, self.name, self.types, self.size = bus, name, types, size
        self._queue: deque[Event] = deque()
        self._wakeup: trio.Event | None = None  # set while the reader waits for an event
        self._closed = False
        self.delivered = 0
        self.dropped = 0  # ever
        self._unreported = 0  # dropped since the last alert

    def offer(self, event: Event) -> None:
        """Queue ``event`` now, or drop and count it."""
        queue = self._queue
        if self._unreported or self._closed or len(queue) >= self.size:
            self._offer_slowly(event)
            return
        queue.append(event)
        self.delivered += 1
        if self._wakeup is not None:
            self._wake()

    def _offer_slowly(self, event: Event) -> None:
        """:meth:`offer` when closed, full, or owing the alert of what it lost."""
        if self._closed:
            return
        queue = self._queue
        if self._unreported and len(queue) + 2 <= self.size:
            alert = AlertEvent(alert_source_type="eventSubscriber", alert_source_id=self.name, severity="warning",
                               message=f"subscriber {self.name} lost {self._unreported} event(s): it read too slowly",
                               details=[f"dropped={self._unreported}", f"droppedTotal={self.dropped}"],
                               event_src_id=self.bus.source_id)
            queue.append(alert)
            self.bus.alerts.add(alert)
            self._unreported = 0
        if len(queue) >= self.size:
            if not self._unreported:
                log.warning("event subscriber %s is full: dropping events", self.name)
            self.dropped += 1
            self._unreported += 1
            return
        queue.append(event)
        self.delivered += 1
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._queue:
            await trio.lowlevel.checkpoint()
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup = wakeup = trio.Event()
            await wakeup.wait()
        return self._queue.popleft()

    def receive_nowait(self) -> Event:
        """The next queued event, or :class:`trio.WouldBlock`."""
        if not self._queue:
            raise trio.WouldBlock
        return self._queue.popleft()

    def close(self) -> None:
        """Stop receiving events (a reader still gets the queued ones)."""
        self.bus.unsubscribe(self)
        self._closed = True
        self._wake()


class EventBus:
    """Routes each published event to every subscriber of its type."""

    def __init__(self, source_id: str = "") -> None:
        self.source_id = source_id
        self._subscriptions: list[Subscription] = []
        self._by_type: dict[str, tuple[Subscription, ...]] = {}  # only types with a subscriber
        self.alerts = AlertHistory()
        """Every alert published (and every subscriber's lost-events alert), the newest kept."""

    def subscribe(self, name: str, types: Iterable[str] = EVENT_TYPES, *,
                  size: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        """A new subscription to ``types`` (each one of :data:`EVENT_TYPES`) with a queue of ``size`` events."""
        wanted = frozenset(types)
        unknown = sorted(wanted - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})")
        sub = Subscription(self, name, wanted, size)
        self._subscriptions.append(sub)
        self._index()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
            self._index()

    def _index(self) -> None:
        by_type = {t: tuple(s for s in self._subscriptions if t in s.types) for t in EVENT_TYPES}
        self._by_type = {t: subs for t, subs in by_type.items() if subs}

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions)

    def wants(self, namespace: str) -> bool:
        """Whether anyone subscribes to ``namespace`` (lets publishers skip building unwanted events); alerts
        are always wanted: the bus keeps the recent ones."""
        return namespace in self._by_type or namespace == "alert"

    def publish(self, event: Event) -> None:
        """Offer ``event`` to its subscribers; never blocks, never raises."""
        if not event.event_src_id:
            event.event_src_id = self.source_id
        if isinstance(event, AlertEvent):
            self.alerts.add(event)
        for sub in self._by_type.get(event.namespace, ()):
            sub.offer(event)
