"""One event bus: publishing never blocks, each subscriber has its own bounded queue.

A subscriber whose queue is full loses the event and counts it; the next time its queue has room
it first receives an ``alert`` event saying how many it lost (docs/events.md).

Publishing appends the event to the bus's pending list; the pending events reach the subscribers' queues in
one pass (:meth:`EventBus.deliver`) when a subscriber reads, subscribes or leaves, when a reader is waiting,
or every :data:`PENDING_MAX` events. No subscriber's queue shrinks in between, so each keeps or drops the same
events as if they had been offered one by one (docs/events.md, "Cost").
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
PENDING_MAX = 256
"""Published events held before they are handed to the subscribers' queues even though nobody reads."""


class Subscription:
    """One subscriber's queue of events of the chosen types: :meth:`take` what is queued after :meth:`wait`,
    or iterate it (``async for``) one event at a time.

    A deque and a wake-up rather than a trio memory channel: publishing is on the controller's hot paths
    (two ``circuit`` events per dial), and the channel's send and its statistics cost several times the
    append (docs/events.md, "Cost")."""

    def __init__(self, bus: EventBus, name: str, types: frozenset[str], size: int) -> None:
        self.bus, self.name, self.types, self.size = bus, name, types, size
        self._every_type = types >= frozenset(EVENT_TYPES)
        self._queue: deque[Event] = deque()
        self._wakeup: trio.Event | None = None  # set while the reader waits for an event
        self._closed = False
        self._delivered = 0
        self._dropped = 0  # ever
        self._unreported = 0  # dropped since the last alert

    @property
    def delivered(self) -> int:
        """Events queued for this subscriber, ever."""
        self.bus.deliver()
        return self._delivered

    @property
    def dropped(self) -> int:
        """Events this subscriber lost because its queue was full, ever."""
        self.bus.deliver()
        return self._dropped

    def _take(self, events: list[Event]) -> None:
        """Queue those of ``events`` (published in this order) of this subscription's types."""
        wanted = events if self._every_type else [event for event in events if event.namespace in self.types]
        if not wanted:
            return
        queue = self._queue
        if not self._unreported and not self._closed and len(queue) + len(wanted) <= self.size:
            queue.extend(wanted)
            self._delivered += len(wanted)
        else:
            for event in wanted:
                self._offer(event)
        if self._wakeup is not None:
            self._wake()

    def _offer(self, event: Event) -> None:
        """Queue ``event``, or drop and count it; when owing the alert of what it lost and there is room for it
        and the event, the alert first."""
        if self._closed:
            return
        queue = self._queue
        if self._unreported and len(queue) + 2 <= self.size:
            alert = AlertEvent(alert_source_type="eventSubscriber", alert_source_id=self.name, severity="warning",
                               message=f"subscriber {self.name} lost {self._unreported} event(s): it read too slowly",
                               details=[f"dropped={self._unreported}", f"droppedTotal={self._dropped}"],
                               event_src_id=self.bus.source_id)
            queue.append(alert)
            self.bus._alerts.add(alert)
            self._unreported = 0
        if len(queue) >= self.size:
            if not self._unreported:
                log.warning("event subscriber %s is full: dropping events", self.name)
            self._dropped += 1
            self._unreported += 1
            return
        queue.append(event)
        self._delivered += 1

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None
        self.bus._waiting.discard(self)

    @property
    def queued(self) -> int:
        self.bus.deliver()
        return len(self._queue)

    async def wait(self) -> bool:
        """Wait until an event is queued: True; False once closed with nothing left."""
        bus = self.bus
        bus.deliver()
        if self._queue:
            await trio.lowlevel.checkpoint()
        while not self._queue:
            if self._closed:
                return False
            self._wakeup = wakeup = trio.Event()
            bus._waiting.add(self)
            try:
                await wakeup.wait()
            finally:
                self._wakeup = None
                bus._waiting.discard(self)
        return True

    def take(self, limit: int) -> list[Event]:
        """Up to ``limit`` queued events, oldest first, without waiting (none queued: an empty list)."""
        self.bus.deliver()
        queue = self._queue
        if len(queue) <= limit:
            events = list(queue)
            queue.clear()
            return events
        return [queue.popleft() for _ in range(limit)]

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if not await self.wait():
            raise StopAsyncIteration
        return self._queue.popleft()

    def receive_nowait(self) -> Event:
        """The next queued event, or :class:`trio.WouldBlock`."""
        self.bus.deliver()
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

    def __init__(self, source_id: str = "", *, alerts: AlertHistory | None = None) -> None:
        self.source_id = source_id
        self._subscriptions: list[Subscription] = []
        self._by_type: dict[str, tuple[Subscription, ...]] = {}  # only types with a subscriber
        self._pending: list[Event] = []  # published, not yet in the subscribers' queues
        self._waiting: set[Subscription] = set()  # whose readers wait for an event
        self._alerts = AlertHistory() if alerts is None else alerts

    def subscribe(self, name: str, types: Iterable[str] = EVENT_TYPES, *,
                  size: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        """A new subscription to ``types`` (each one of :data:`EVENT_TYPES`) with a queue of ``size`` events."""
        wanted = frozenset(types)
        unknown = sorted(wanted - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})")
        self.deliver()  # what was published before is not the new subscriber's
        sub = Subscription(self, name, wanted, size)
        self._subscriptions.append(sub)
        self._index()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self.deliver()  # what was published before is still the leaving subscriber's
            self._subscriptions.remove(sub)
            self._index()

    def _index(self) -> None:
        by_type = {t: tuple(s for s in self._subscriptions if t in s.types) for t in EVENT_TYPES}
        self._by_type = {t: subs for t, subs in by_type.items() if subs}

    @property
    def alerts(self) -> AlertHistory:
        """Every alert published (and every subscriber's lost-events alert), the newest kept."""
        self.deliver()
        return self._alerts

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
        namespace = event.namespace
        if namespace == "alert" and isinstance(event, AlertEvent):
            self._alerts.add(event)
        if namespace in self._by_type:
            pending = self._pending
            pending.append(event)
            if self._waiting or len(pending) >= PENDING_MAX:
                self.deliver()

    def deliver(self) -> None:
        """Hand the published events to their subscribers' queues, in the order they were published."""
        events = self._pending
        if events:
            self._pending = []
            for sub in self._subscriptions:
                sub._take(events)
