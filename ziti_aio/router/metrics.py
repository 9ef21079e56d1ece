"""The router's usage meter: bytes per circuit by usage type and bytes per link, reported to the
controller once per interval (``METRICS`` on the control channel, as OpenZiti routers report usage
counters; docs/events.md).

Counting is a dictionary update inline where data moves (no waiting, no lock: one trio thread);
the reporter swaps the counters out and sends them. Usage types are OpenZiti's: ``ingress.rx`` /
``ingress.tx`` on the dialer's router (from / to the dialing SDK), ``egress.rx`` / ``egress.tx`` on the
host's router (from / to the hosting SDK), ``fabric.rx`` / ``fabric.tx`` for payloads over links.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

import trio

from ziti_aio.wire.ctrl import CtrlType

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlNotifier

DEFAULT_INTERVAL_S = 60.0
MIN_INTERVAL_S = 0.05


class UsageMeter:
    """Bytes since the last report: per circuit and usage type, per link and direction."""

    def __init__(self) -> None:
        self.interval_s = DEFAULT_INTERVAL_S
        self._circuits: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._links: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
        self._start = int(time.time())

    def add(self, circuit_id: str, usage_type: str, count: int) -> None:
        """``count`` bytes of ``circuit_id`` of one usage type (e.g. ``ingress.rx``)."""
        self._circuits[circuit_id][usage_type] += count

    def link_rx(self, link_id: str, count: int) -> None:
        self._links[link_id][0] += count

    def link_tx(self, link_id: str, count: int) -> None:
        self._links[link_id][1] += count

    def take(self) -> dict[str, object] | None:
        """The interval's report body (``None`` when nothing moved), and a new interval."""
        now = int(time.time())
        circuits, links, start = self._circuits, self._links, self._start
        self._circuits, self._links, self._start = defaultdict(Counter), defaultdict(lambda: [0, 0]), now
        if not circuits and not links:
            return None
        return {"intervalStartUtc": start, "intervalLength": max(1, now - start),
                "circuits": [{"id": c, "usage": dict(u)} for c, u in circuits.items()],
                "links": [{"id": lid, "rxBytes": rx, "txBytes": tx} for lid, (rx, tx) in links.items()]}


async def report_usage(meter: UsageMeter, ctrl: CtrlNotifier) -> None:
    """Send the meter's counts to the controller every interval until cancelled (lost while the control
    channel is down, as OpenZiti's usage is without a controller)."""
    while True:
        await trio.sleep(max(MIN_INTERVAL_S, meter.interval_s))
        body = meter.take()
        if body is not None:
            await ctrl.send(CtrlType.METRICS, **body)
