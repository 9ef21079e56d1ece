"""The forwarding table: for each circuit, where its payloads and acks go next.

A route names, per direction, the link toward that end of the circuit, or "" when that end is
on this router. Payloads and acks carry the circuit id and which end sent them (origin), so a
transit router only looks up the link toward the other end. Forwarding runs inline in the
reader of the incoming link and never waits: a payload with no route, no live next link or a
full queue is dropped and logged at debug level; the circuit's ends retransmit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ziti_aio.wire import link as wire
from ziti_aio.wire.link import INITIATOR, LinkType

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ziti_aio.router.fabric.circuits import CircuitTable
    from ziti_aio.router.fabric.link import RouterLink
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

MAX_ROUTES = 1_000_000


@dataclass(frozen=True)
class Route:
    """Link toward the initiator's end and link toward the terminator's end ("" = on this router)."""

    initiator_link: str
    terminator_link: str

    def toward(self, origin: int) -> str:
        """The next hop of a message sent by the ``origin`` end."""
        return self.terminator_link if origin == INITIATOR else self.initiator_link


class Forwarder:
    """The routes of router ``router_id``; ``links`` are its live links by id, ``circuits`` hold
    the ends on this router that the links feed."""

    def __init__(self, router_id: str, circuits: CircuitTable, links: Mapping[str, RouterLink]) -> None:
        self.router_id = router_id
        self.circuits = circuits
        self.links = links
        self.routes: dict[str, Route] = {}

    def set_route(self, circuit_id: str, route: Route) -> bool:
        """Install or replace a route; ``False`` when the table is full."""
        if circuit_id not in self.routes and len(self.routes) >= MAX_ROUTES:
            return False
        self.routes[circuit_id] = route
        return True

    def remove_route(self, circuit_id: str) -> None:
        self.routes.pop(circuit_id, None)

    def next_link(self, circuit_id: str, origin: int) -> RouterLink | None:
        route = self.routes.get(circuit_id)
        if route is None:
            return None
        return self._link(route.toward(origin))

    def _link(self, link_id: str) -> RouterLink | None:
        return self.links.get(link_id) if link_id else None

    async def handle(self, link: RouterLink, msg: Message) -> None:
        """A payload or ack from ``link``: to its local end, or on to the next link."""
        circuit_id, origin = wire.circuit_of(msg)
        usage = self.circuits.usage
        usage.link_rx(link.id, len(msg.body))
        if msg.content_type == LinkType.PAYLOAD:
            usage.add(circuit_id, "fabric.rx", len(msg.body))
        route = self.routes.get(circuit_id)
        if route is None:
            self._drop(circuit_id, "no route")
            return
        hop = route.toward(origin)
        if not hop:
            end = self.circuits.linked(circuit_id)
            if end is None:
                self._drop(circuit_id, "no local end")
            elif msg.content_type == LinkType.PAYLOAD:
                end.on_payload(wire.parse_payload(msg))
            else:
                end.on_ack(wire.parse_ack(msg))
            return
        out = self._link(hop)
        if out is not None and msg.content_type == LinkType.ACK:
            out.put_priority(msg)
        elif out is None or not out.offer(msg):
            self._drop(circuit_id, f"next link {hop} is gone or full")
        else:
            usage.add(circuit_id, "fabric.tx", len(msg.body))
            usage.link_tx(out.id, len(msg.body))

    def _drop(self, circuit_id: str, why: str) -> None:
        log.debug("router %s: dropped a message of circuit %s: %s", self.router_id, circuit_id, why)
