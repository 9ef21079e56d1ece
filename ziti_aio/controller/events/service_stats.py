"""``service`` events: dials per service (and terminator) per interval, by outcome, as OpenZiti's
service events (docs/events.md). Counts are kept as dials end and published once per interval."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from ziti_aio.controller.events.types import ServiceEvent

if TYPE_CHECKING:
    from ziti_aio.controller.events.bus import EventBus

SUCCESS = "service.dial.success"
FAIL = "service.dial.fail"
TIMEOUT = "service.dial.timeout"
OTHER = "service.dial.error_other"


class ServiceCounters:
    """Dial outcomes by ``(event type, service id, terminator id)`` since the last :meth:`flush`."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._start = int(time.time())

    def dial_succeeded(self, service_id: str, terminator_id: str) -> None:
        self._counts[SUCCESS, service_id, terminator_id] += 1

    def dial_failed(self, service_id: str, terminator_id: str, code: str) -> None:
        """A failed dial counts as ``fail`` and as ``timeout`` (a timeout code) or ``error_other``."""
        if not service_id:
            return
        self._counts[FAIL, service_id, terminator_id] += 1
        self._counts[TIMEOUT if "TIMEOUT" in code else OTHER, service_id, terminator_id] += 1

    def flush(self, bus: EventBus) -> None:
        """Publish the interval's counts (one event per outcome, service and terminator) and start anew."""
        now = int(time.time())
        counts, start, self._counts, self._start = self._counts, self._start, Counter(), now
        if not bus.wants("service"):
            return
        for (event_type, service_id, terminator_id), count in sorted(counts.items()):
            bus.publish(ServiceEvent(event_type=event_type, service_id=service_id, terminator_id=terminator_id,
                                     count=count, interval_start_utc=start, interval_length=max(1, now - start)))
