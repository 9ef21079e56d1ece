"""Link latency in routers' ``METRICS`` reports (docs/events.md): each link's heartbeat round trips in the
interval, summarised as a histogram, become ``metrics`` events with OpenZiti's ``link.latency`` metric (its
link metrics mapper's shape: ``source_entity_id`` the link, tags ``sourceRouterId`` / ``targetRouterId``).
The ``/metrics`` gauge of link latency comes from the routers' more frequent ``LINK_METRICS``
(docs/operations.md)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ProtocolError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.events.types import MetricsEvent
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.events.bus import EventBus
    from ziti_aio.controller.network.links import Links

HISTOGRAM_FIELDS = ("count", "min", "max", "mean", "std_dev", "variance", "p50", "p75", "p95", "p99", "p999",
                    "p9999")
MAX_LINKS = 10_000
MAX_ID_CHARS = 64
MAX_VALUE = 2.0**63


def parse_link_latency(data: dict[str, Any]) -> dict[str, dict[str, float]]:
    """A report's ``linkLatency``, checked: link id -> histogram field -> value (a malformed one is a
    :class:`ProtocolError`)."""
    items = data.get("linkLatency", [])
    if not isinstance(items, list) or len(items) > MAX_LINKS:
        raise ProtocolError("a metrics report's linkLatency must be a list of links")
    out: dict[str, dict[str, float]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise ProtocolError("a metrics report's linkLatency entry is malformed")
        values: dict[str, float] = {}
        for name in HISTOGRAM_FIELDS:
            value = item.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                    or not 0 <= value < MAX_VALUE:
                raise ProtocolError(f"a metrics report's link latency {name} is not a number of nanoseconds")
            values[name] = value
        out[ctrl.string(item, "id", max_length=MAX_ID_CHARS)] = values
    return out


def publish_link_latency(latency: dict[str, dict[str, float]], router_id: str, *, bus: EventBus,
                         links: Links) -> None:
    """``latency`` measured by router ``router_id`` as ``metrics`` events, one per link it is an end of
    that the controller knows (one ``source_event_id`` per report, as OpenZiti's events of one message)."""
    if not latency or not bus.wants("metrics"):
        return
    report_id = new_id()
    for link_id, values in latency.items():
        link = links.get(link_id)
        if link is None or router_id not in (link.src, link.dst):
            continue
        bus.publish(MetricsEvent(metric_type="histogram", source_id=router_id, metric="link.latency",
                                 metrics=values, source_entity_id=link_id, source_event_id=report_id,
                                 tags={"sourceRouterId": link.src, "targetRouterId": link.dst}))
