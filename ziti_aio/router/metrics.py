"""The router's usage meter: bytes per circuit by usage type and bytes per link, reported to the
controller once per interval with each link's latency in that interval (``METRICS`` on the control
channel, as OpenZiti routers report usage counters and ``link.<id>.latency``; docs/events.md).

Counting is a dictionary update inline where data moves (no waiting, no lock: one trio thread);
the reporter swaps the counters out and sends them. Usage types are OpenZiti's: ``ingress.rx`` /
``ingress.tx`` on the dialer's router (from / to the dialing SDK), ``egress.rx`` / ``egress.tx`` on the
host's router (from / to the hosting SDK), ``fabric.rx`` / ``fabric.tx`` for payloads over links.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

import trio

from ziti_aio.wire.ctrl import CtrlType

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.router.ctrl import CtrlNotifier

DEFAULT_INTERVAL_S = 60.0
MIN_INTERVAL_S = 0.05
PERCENTILES = {"p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99, "p999": 0.999, "p9999": 0.9999}


def summarise(samples: list[int]) -> dict[str, float]:
    """Round trips (ns, at least one) with the fields of OpenZiti's histogram metrics: ``count``, ``min``,
    ``max``, ``mean``, ``std_dev``, ``variance``, ``p50`` … ``p9999`` (nearest rank)."""
    ordered = sorted(samples)
    count = len(ordered)
    variance = statistics.pvariance(ordered) if count > 1 else 0.0
    out: dict[str, float] = {"count": count, "min": ordered[0], "max": ordered[-1],
                             "mean": statistics.fmean(ordered), "std_dev": math.sqrt(variance),
                             "variance": variance}
    for name, fraction in PERCENTILES.items():
        out[name] = ordered[max(0, math.ceil(fraction * count) - 1)]
    return out


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

    def take(self, link_latency: dict[str, list[int]] | None = None) -> dict[str, object] | None:
        """The interval's report body with ``link_latency`` (link id -> round trips in ns) summarised
        (``None`` when nothing moved and nothing was measured), and a new interval."""
        now = int(time.time())
        circuits, links, start = self._circuits, self._links, self._start
        self._circuits, self._links, self._start = defaultdict(Counter), defaultdict(lambda: [0, 0]), now
        latency = {lid: samples for lid, samples in (link_latency or {}).items() if samples}
        if not circuits and not links and not latency:
            return None
        body: dict[str, object] = {
            "intervalStartUtc": start, "intervalLength": max(1, now - start),
            "circuits": [{"id": c, "usage": dict(u)} for c, u in circuits.items()],
            "links": [{"id": lid, "rxBytes": rx, "txBytes": tx} for lid, (rx, tx) in links.items()]}
        if latency:
            body["linkLatency"] = [{"id": lid, **summarise(samples)} for lid, samples in latency.items()]
        return body


async def report_usage(meter: UsageMeter, ctrl: CtrlNotifier,
                       link_latency: Callable[[], dict[str, list[int]]] | None = None) -> None:
    """Send the meter's counts and the links' round trips (``link_latency()``: link id -> ns since its last
    call) to the controller every interval until cancelled (lost while the control channel is down, as
    OpenZiti's metrics are without a controller)."""
    while True:
        await trio.sleep(max(MIN_INTERVAL_S, meter.interval_s))
        body = meter.take(link_latency() if link_latency is not None else None)
        if body is not None:
            await ctrl.send(CtrlType.METRICS, **body)
