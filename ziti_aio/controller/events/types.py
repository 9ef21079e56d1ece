"""Typed events with OpenZiti's namespaces and JSON field names (docs/events.md).

Every event is built on the controller's hot paths (two ``circuit`` events a dial) and encoded once for all
sinks, so these classes are slotted, an event keeps its time as nanoseconds until it is encoded, and a
circuit's events splice their JSON from parts, the constant ones encoded once for all the circuits of one
session, terminator and path: docs/events.md, "Cost", has the figures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

_second: tuple[int, bytes] = (0, b"")
"""The last whole second (Unix) formatted, and its text: one tuple, assigned at once (sinks' threads read it)."""


def _second_text(second: int) -> bytes:
    """``second`` (Unix) as RFC 3339 UTC up to its ``.``; formatted once a second (every event's timestamp)."""
    global _second  # a one-entry cache on a hot path
    last = _second
    if last[0] != second:
        _second = last = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)).encode())
    return last[1]


def encode(obj: dict[str, Any]) -> bytes:
    """``obj`` as compact JSON (orjson: a tenth of the stdlib encoder's cost; non-ASCII stays UTF-8); keys
    that are not strings and values orjson does not know take a slower second try."""
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS)


@dataclass(slots=True)
class Event:
    """One event; :meth:`to_json` gives the object written to sinks (``namespace`` names its type)."""

    namespace: ClassVar[str] = ""
    at_ns: int = field(default_factory=time.time_ns, kw_only=True)
    """When it happened (Unix ns); formatted as :attr:`timestamp` only when written (docs/events.md, "Cost")."""
    event_src_id: str = field(default="", kw_only=True)
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def timestamp(self) -> str:
        """:attr:`at_ns` as RFC 3339 UTC to the microsecond, ending in ``Z``."""
        at = self.at_ns
        return "%s%06dZ" % (_second_text(at // 1_000_000_000).decode(), at // 1000 % 1_000_000)  # noqa: UP031

    def fields(self) -> dict[str, Any]:
        """The type's own fields, with their JSON names."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "event_src_id": self.event_src_id, "timestamp": self.timestamp,
                **self.fields()}

    def encoded(self) -> bytes:
        """:meth:`to_json` as compact JSON (UTF-8), encoded once however many sinks write it."""
        if self._encoded is None:
            self._encoded = encode(self.to_json())
        return self._encoded


def json_lines(events: list[Event]) -> bytes:
    """``events`` encoded, one per line (no newline after the last): what the sinks write."""
    return b"\n".join([event._encoded or event.encoded() for event in events])  # most encoded by another sink


@dataclass(slots=True)
class EntityChangeEvent(Event):
    """A created, updated or deleted entity with its states before and after (secrets left out); or,
    with ``event_type`` ``committed`` and nothing else, the end of the transaction whose changes share
    ``event_id`` (as OpenZiti sends it after the commit)."""

    namespace: ClassVar[str] = "entityChange"
    event_id: str
    event_type: str  # created, updated, deleted, committed
    entity_type: str = ""
    initial_state: dict[str, Any] | None = None
    final_state: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None

    def fields(self) -> dict[str, Any]:
        if self.event_type == "committed":
            return {"eventId": self.event_id, "eventType": self.event_type}
        return {"eventId": self.event_id, "eventType": self.event_type, "metadata": self.metadata,
                "entityType": self.entity_type, "isParentEvent": False,
                "initialState": self.initial_state, "finalState": self.final_state}


BODIES_KEPT = 4096
"""Circuit bodies kept by what they are made of but the circuit's id (see :func:`circuit_body`)."""
_bodies: dict[tuple[str, str, str, str, str, tuple[str, ...], tuple[str, ...]], bytes] = {}


def circuit_body(circuit_id: str, client_id: str, service_id: str, terminator_id: str = "", session_id: str = "",
                 host_id: str = "", nodes: tuple[str, ...] = (), links: tuple[str, ...] = ()) -> bytes:
    """The members of a circuit event's JSON object that stay the same for one circuit from ``created`` to
    ``deleted`` (until its path changes), encoded, to be spliced into each of its events. Everything after
    ``circuit_id`` is the same for every circuit of one dialer's session to one terminator over one path, so it
    is encoded once for all of them (docs/events.md, "Cost")."""
    key = (client_id, service_id, terminator_id, session_id, host_id, nodes, links)
    rest = _bodies.get(key)
    if rest is None:
        if len(_bodies) >= BODIES_KEPT:
            _bodies.clear()
        # OpenZiti's circuit event format version 2: ``client_id`` is "who the circuit was created for", the edge
        # session, and the identities are in ``tags``. Ingress/egress ids name OpenZiti's xgress instances, which
        # have no counterpart here, so they are empty (as in its failed events).
        _bodies[key] = rest = orjson.dumps({
            "client_id": session_id, "service_id": service_id, "terminator_id": terminator_id, "instance_id": "",
            "path": {"nodes": nodes, "links": links, "ingress_id": "", "egress_id": ""}, "link_count": len(links),
            "tags": {"clientId": client_id, "hostId": host_id, "serviceId": service_id}
            if host_id else {"clientId": client_id, "serviceId": service_id}})[1:-1]
    return b'"circuit_id":%s,%s' % (orjson.dumps(circuit_id), rest)


@dataclass(slots=True)
class CircuitEvent(Event):
    """A circuit created, its path updated, deleted, or a dial that failed: its type, the circuit's
    :func:`circuit_body` and what the type adds (``creation_timespan`` on ``created``, ``duration`` on
    ``deleted``, ``failure_cause`` on ``failed``)."""

    namespace: ClassVar[str] = "circuit"
    event_type: str  # created, pathUpdated, deleted, failed
    body: bytes = field(repr=False)
    creation_timespan_ns: int | None = None
    duration_ns: int | None = None
    failure_cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return orjson.loads(self.encoded())  # type: ignore[no-any-return]

    def encoded(self) -> bytes:
        # one bytes format of prebuilt parts (the order of the keys is OpenZiti's): encoding a dict for each
        # event cost three times as much (docs/events.md, "Cost")
        if self._encoded is None:
            at = self.at_ns
            second = at // 1_000_000_000
            last = _second
            stamp = last[1] if last[0] == second else _second_text(second)
            cached = _templates
            templates = cached[1] if cached[0] == self.event_src_id else _circuit_templates(self.event_src_id)
            created, duration, cause = self.creation_timespan_ns, self.duration_ns, self.failure_cause
            if cause is None and (created is None) != (duration is None):  # every dial's two events
                kind = "created" if duration is None else "deleted"
                if self.event_type == kind:
                    self._encoded = templates[kind] % (stamp, at // 1000 % 1_000_000, self.body,
                                                       duration if created is None else created)
                    return self._encoded
            tail = b"".join((b"" if created is None else b',"creation_timespan":%d' % created,
                             b"" if duration is None else b',"duration":%d' % duration,
                             b"" if cause is None else b',"failure_cause":%s' % orjson.dumps(cause)))
            self._encoded = templates[""] % (stamp, at // 1000 % 1_000_000, orjson.dumps(self.event_type),
                                             self.body, tail)
        return self._encoded


_templates: tuple[str | None, dict[str, bytes]] = (None, {})


def _circuit_templates(event_src_id: str) -> dict[str, bytes]:
    """The byte formats of a circuit event's JSON from ``event_src_id`` (the controller's id: one cache entry):
    ``created`` and ``deleted`` take the timestamp's second and microseconds, the body and their one number;
    ``""`` (any event) takes the timestamp, the type's JSON, the body and the members that follow it."""
    global _templates  # a one-entry cache on a hot path
    last = _templates
    if last[0] != event_src_id:
        head = b'{"namespace":"circuit","event_src_id":%s,"timestamp":"%%s%%06dZ","version":2,' % (
            orjson.dumps(event_src_id).replace(b"%", b"%%"))
        _templates = last = (event_src_id, {
            "created": head + b'"event_type":"created",%s,"creation_timespan":%d}',
            "deleted": head + b'"event_type":"deleted",%s,"duration":%d}',
            "": head + b'"event_type":%s,%s%s}'})
    return last[1]


@dataclass(slots=True)
class RouterEvent(Event):
    """A router connected to (``router-online``) or left (``router-offline``) the controller."""

    namespace: ClassVar[str] = "router"
    router_id: str
    online: bool

    def fields(self) -> dict[str, Any]:
        return {"event_type": "router-online" if self.online else "router-offline",
                "router_id": self.router_id, "router_online": self.online}


@dataclass(slots=True)
class LinkEvent(Event):
    """A link a router reported for the first time (``routerLinkNew``) or that went away (``fault``)."""

    namespace: ClassVar[str] = "link"
    event_type: str  # routerLinkNew, fault
    link_id: str
    src_router_id: str
    dst_router_id: str
    dial_address: str = ""
    cost: int = 0

    def fields(self) -> dict[str, Any]:
        protocol = self.dial_address.split(":", 1)[0] if ":" in self.dial_address else ""
        return {"event_type": self.event_type, "link_id": self.link_id, "src_router_id": self.src_router_id,
                "dst_router_id": self.dst_router_id, "protocol": protocol, "dial_address": self.dial_address,
                "cost": self.cost}


@dataclass(slots=True)
class SessionEvent(Event):
    """A service session created or deleted (its token is never included)."""

    namespace: ClassVar[str] = "session"
    event_type: str  # created, deleted
    id: str
    session_type: str
    api_session_id: str
    identity_id: str
    service_id: str

    def fields(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "id": self.id, "session_type": self.session_type,
                "api_session_id": self.api_session_id, "identity_id": self.identity_id,
                "service_id": self.service_id}


@dataclass(slots=True)
class ApiSessionEvent(Event):
    """An API session created or deleted (its token is never included)."""

    namespace: ClassVar[str] = "apiSession"
    event_type: str  # created, deleted
    id: str
    identity_id: str
    ip_address: str = ""

    def fields(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "id": self.id, "type": "legacy", "identity_id": self.identity_id,
                "ip_address": self.ip_address, "cert_generated": False}


@dataclass(slots=True)
class AlertEvent(Event):
    """An operational problem an operator must see and can fix (docs/events.md lists the sources)."""

    namespace: ClassVar[str] = "alert"
    alert_source_type: str
    alert_source_id: str
    severity: str
    message: str
    details: list[str] = field(default_factory=list)
    related_entities: dict[str, str] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {"alert_source_type": self.alert_source_type, "alert_source_id": self.alert_source_id,
                "severity": self.severity, "message": self.message, "details": list(self.details),
                "related_entities": dict(self.related_entities)}


@dataclass(slots=True)
class UsageEvent(Event):
    """Bytes one router moved for one circuit in one interval, by usage type (OpenZiti's usage format 3:
    ``ingress.rx``/``.tx`` at the dialer's router, ``egress.*`` at the host's, ``fabric.*`` on links)."""

    namespace: ClassVar[str] = "usage"
    source_id: str
    circuit_id: str
    usage: dict[str, int]
    interval_start_utc: int
    interval_length: int
    tags: dict[str, str] | None = None

    def fields(self) -> dict[str, Any]:
        return {"version": 3, "source_id": self.source_id, "circuit_id": self.circuit_id, "usage": dict(self.usage),
                "interval_start_utc": self.interval_start_utc, "interval_length": self.interval_length,
                "tags": self.tags}


@dataclass(slots=True)
class ServiceEvent(Event):
    """How many dials of a service (through a terminator, when one was chosen) ended one way in an interval:
    ``service.dial.success``, ``.fail``, ``.timeout``, ``.error_other`` (OpenZiti's service event, format 2)."""

    namespace: ClassVar[str] = "service"
    event_type: str
    service_id: str
    terminator_id: str
    count: int
    interval_start_utc: int
    interval_length: int

    def fields(self) -> dict[str, Any]:
        return {"version": 2, "event_type": self.event_type, "terminator_id": self.terminator_id,
                "service_id": self.service_id, "count": self.count, "interval_start_utc": self.interval_start_utc,
                "interval_length": self.interval_length}


@dataclass(slots=True)
class ClusterEvent(Event):
    """A change in a controller cluster as one member sees it: ``peer.connected``, ``peer.disconnected``,
    ``members.changed``, ``leadership.gained``, ``leadership.lost``, ``state.rw``, ``state.ro`` (OpenZiti's
    cluster events; subscribed to as ``cluster``, written with its namespace ``fabric.cluster``)."""

    namespace: ClassVar[str] = "cluster"
    event_type: str
    index: int = 0
    peers: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        # Event.to_json, not super(): a slotted dataclass is a new class, which zero-argument super() misses
        return {**Event.to_json(self), "namespace": "fabric.cluster"}

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"eventType": self.event_type}
        if self.index:
            out["index"] = self.index
        if self.peers:
            out["peers"] = [dict(peer) for peer in self.peers]
        return out


@dataclass(slots=True)
class MetricsEvent(Event):
    """One metric a router reported, as OpenZiti's metrics event (version 3): ``link.latency``, a histogram of
    one link's heartbeat round trips (ns) in one report interval, ``source_entity_id`` the link."""

    namespace: ClassVar[str] = "metrics"
    metric_type: str  # histogram
    source_id: str  # the reporting router
    metric: str
    metrics: dict[str, float]
    source_entity_id: str = ""
    tags: dict[str, str] | None = None
    source_event_id: str = ""  # shared by the events of one report

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric_type": self.metric_type, "source_id": self.source_id, "version": 3,
                               "metric": self.metric, "metrics": dict(self.metrics),
                               "source_event_id": self.source_event_id}
        if self.source_entity_id:
            out["source_entity_id"] = self.source_entity_id
        if self.tags:
            out["tags"] = dict(self.tags)
        return out
