"""Routers' usage reports (``METRICS`` on the control channel, docs/events.md): bytes per circuit per
usage type and per link, per interval, as ``usage`` events in OpenZiti's format 3 and as byte counters
in ``/metrics`` (per router, link and service)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ProtocolError
from ziti_aio.controller.events.link_latency import parse_link_latency
from ziti_aio.controller.events.types import UsageEvent
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.events.bus import EventBus
    from ziti_aio.controller.metrics import ControllerMetrics
    from ziti_aio.controller.network.circuits import Circuit

USAGE_TYPES = frozenset({"ingress.rx", "ingress.tx", "egress.rx", "egress.tx", "fabric.rx", "fabric.tx"})
MAX_ITEMS = 100_000
MAX_ID_CHARS = 64
MAX_BYTES = 2**63


@dataclass(frozen=True)
class UsageReport:
    """One router's checked report: ``circuits`` id -> usage type -> bytes; ``links`` id -> (rx, tx);
    ``link_latency`` id -> histogram field -> ns (docs/events.md)."""

    interval_start_utc: int
    interval_length: int
    circuits: dict[str, dict[str, int]]
    links: dict[str, tuple[int, int]]
    link_latency: dict[str, dict[str, float]]


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_BYTES:
        raise ProtocolError(f"a usage report's {what} is not a byte count")
    return value


def parse_report(data: dict[str, Any]) -> UsageReport:
    """A report's body, checked (a malformed one is a :class:`ProtocolError`: the router lies or is broken)."""
    circuits, links = data.get("circuits", []), data.get("links", [])
    if not isinstance(circuits, list) or not isinstance(links, list) or len(circuits) + len(links) > MAX_ITEMS:
        raise ProtocolError("a usage report must hold lists of circuits and links")
    start = ctrl.integer(data, "intervalStartUtc", low=0, high=2**40)
    length = ctrl.integer(data, "intervalLength", low=0, high=86400 * 366)
    by_circuit: dict[str, dict[str, int]] = {}
    for item in circuits:
        usage = item.get("usage") if isinstance(item, dict) else None
        if not isinstance(usage, dict) or not set(usage) <= USAGE_TYPES:
            raise ProtocolError("a usage report's circuit entry is malformed")
        by_circuit[ctrl.string(item, "id", max_length=MAX_ID_CHARS)] = {
            k: _count(v, k) for k, v in usage.items() if v}
    by_link: dict[str, tuple[int, int]] = {}
    for item in links:
        if not isinstance(item, dict):
            raise ProtocolError("a usage report's link entry is malformed")
        by_link[ctrl.string(item, "id", max_length=MAX_ID_CHARS)] = (
            _count(item.get("rxBytes", 0), "rxBytes"), _count(item.get("txBytes", 0), "txBytes"))
    return UsageReport(start, length, by_circuit, by_link, parse_link_latency(data))


def usage_tags(circuit: Circuit | None) -> dict[str, str] | None:
    """OpenZiti's usage tags for a circuit the controller knows (``None`` when it does not)."""
    if circuit is None:
        return None
    return {"clientId": circuit.client_id, "hostId": circuit.host_id, "serviceId": circuit.service_id}


def record_usage(report: UsageReport, router_id: str, *, bus: EventBus, metrics: ControllerMetrics,
                 circuit_of: Callable[[str], Circuit | None]) -> None:
    """Publish ``report`` of router ``router_id`` as usage events and count its bytes; ``circuit_of(id)``
    gives the circuit (live or recently ended) for tags and the service label."""
    wanted = bus.wants("usage")
    for circuit_id, usage in report.circuits.items():
        if not usage:
            continue
        circuit = circuit_of(circuit_id)
        for usage_type, count in usage.items():
            metrics.usage(router_id, circuit.service_id if circuit is not None else "", usage_type, count)
        if wanted:
            bus.publish(UsageEvent(source_id=router_id, circuit_id=circuit_id, usage=usage,
                                   interval_start_utc=report.interval_start_utc,
                                   interval_length=report.interval_length, tags=usage_tags(circuit)))
    for link_id, (rx, tx) in report.links.items():
        metrics.link_bytes(link_id, router_id, rx, tx)
