"""Typed events with OpenZiti's namespaces and JSON field names (docs/events.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Event:
    """One event; :meth:`to_json` gives the object written to sinks (``namespace`` names its type)."""

    namespace: ClassVar[str] = ""
    timestamp: str = field(default_factory=_now, kw_only=True)
    event_src_id: str = field(default="", kw_only=True)

    def fields(self) -> dict[str, Any]:
        """The type's own fields, with their JSON names."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "event_src_id": self.event_src_id, "timestamp": self.timestamp,
                **self.fields()}


@dataclass
class EntityChangeEvent(Event):
    """A created, updated or deleted entity with its states before and after (secrets left out)."""

    namespace: ClassVar[str] = "entityChange"
    event_id: str
    event_type: str  # created, updated, deleted
    entity_type: str
    initial_state: dict[str, Any] | None
    final_state: dict[str, Any] | None
    metadata: dict[str, Any]

    def fields(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "eventType": self.event_type, "metadata": self.metadata,
                "entityType": self.entity_type, "isParentEvent": False,
                "initialState": self.initial_state, "finalState": self.final_state}


@dataclass
class CircuitEvent(Event):
    """A circuit created, its path updated, deleted, or a dial that failed."""

    namespace: ClassVar[str] = "circuit"
    event_type: str  # created, pathUpdated, deleted, failed
    circuit_id: str
    client_id: str
    service_id: str
    terminator_id: str = ""
    nodes: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    creation_timespan_ns: int | None = None
    duration_ns: int | None = None
    failure_cause: str | None = None

    def fields(self) -> dict[str, Any]:
        # OpenZiti's circuit event format version 2; ingress/egress ids name OpenZiti's xgress
        # instances, which have no counterpart here, so they are empty (as in its failed events).
        out: dict[str, Any] = {
            "version": 2, "event_type": self.event_type, "circuit_id": self.circuit_id,
            "client_id": self.client_id, "service_id": self.service_id, "terminator_id": self.terminator_id,
            "instance_id": "",
            "path": {"nodes": list(self.nodes), "links": list(self.links), "ingress_id": "", "egress_id": ""},
            "link_count": len(self.links), "tags": {}}
        if self.creation_timespan_ns is not None:
            out["creation_timespan"] = self.creation_timespan_ns
        if self.duration_ns is not None:
            out["duration"] = self.duration_ns
        if self.failure_cause is not None:
            out["failure_cause"] = self.failure_cause
        return out


@dataclass
class RouterEvent(Event):
    """A router connected to (``router-online``) or left (``router-offline``) the controller."""

    namespace: ClassVar[str] = "router"
    router_id: str
    online: bool

    def fields(self) -> dict[str, Any]:
        return {"event_type": "router-online" if self.online else "router-offline",
                "router_id": self.router_id, "router_online": self.online}


@dataclass
class LinkEvent(Event):
    """A link between two routers came up (``connected``) or went away (``fault``)."""

    namespace: ClassVar[str] = "link"
    event_type: str  # connected, fault
    link_id: str
    src_router_id: str
    dst_router_id: str
    cost: int = 0

    def fields(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "link_id": self.link_id, "src_router_id": self.src_router_id,
                "dst_router_id": self.dst_router_id, "cost": self.cost}


@dataclass
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


@dataclass
class ApiSessionEvent(Event):
    """An API session created or deleted (its token is never included)."""

    namespace: ClassVar[str] = "apiSession"
    event_type: str  # created, deleted
    id: str
    identity_id: str
    ip_address: str = ""

    def fields(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "id": self.id, "type": "legacy", "identity_id": self.identity_id,
                "ip_address": self.ip_address}


@dataclass
class AlertEvent(Event):
    """An operational problem an operator must see (e.g. a subscriber that lost events)."""

    namespace: ClassVar[str] = "alert"
    alert_source_type: str
    alert_source_id: str
    severity: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {"alertSourceType": self.alert_source_type, "alertSourceId": self.alert_source_id,
                "severity": self.severity, "message": self.message, "details": self.details}
