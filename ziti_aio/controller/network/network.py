"""The controller's view of the data plane: connected routers, links, terminators and circuits.

Model changes reach routers from here: the router model (``router_model.py``) and each stored
revocation (API session or session) are pushed to every connected router at once, deleting an
edge router drops its control channel, and closing a circuit (management API) tells the routers
on its path. Every router gets the list
of online routers (``ROUTERS``) whenever it changes, so routers link up as a mesh. A link that
goes away or is marked down, and a transit router that goes offline, move the circuits using
them to another path (:mod:`ziti_aio.controller.network.routing`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import NotFoundError
from ziti_aio.controller.events.alerts import Alerts
from ziti_aio.controller.events.bus import EventBus
from ziti_aio.controller.events.entity_changes import publish_entity_change
from ziti_aio.controller.events.link_latency import publish_link_latency
from ziti_aio.controller.events.service_stats import ServiceCounters
from ziti_aio.controller.events.types import CircuitEvent, LinkEvent, RouterEvent, circuit_body
from ziti_aio.controller.events.usage import UsageReport, record_usage
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.metrics import ControllerMetrics
from ziti_aio.controller.network.circuits import Circuit, Circuits
from ziti_aio.controller.network.links import Links, ReportedLink
from ziti_aio.controller.network.paths import Graph, RouterNode
from ziti_aio.controller.network.router_model import RouterModelFeed
from ziti_aio.controller.network.routers import ConnectedRouter, Routers
from ziti_aio.controller.network.routing import Routing
from ziti_aio.controller.network.terminators import Terminator, Terminators
from ziti_aio.controller.network.tracing import IdentityTraces
from ziti_aio.controller.store.commands import Command, Delete, Put
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.model.model import Entity, Model, Previous
    from ziti_aio.controller.model.tokens import TokenSigner

log = logging.getLogger(__name__)
# The revocations routers check tokens against, by stored type (an IDENTITY revocation reaches them as the
# revocations of that identity's API sessions).
ROUTER_REVOCATIONS = {"API_SESSION": "apiSessions", "SESSION": "sessions", "SESSION_CERT": "certs"}

REPORT_INTERVAL_S = 60.0
"""How often routers report usage and the controller publishes service events (OpenZiti's default)."""


class Network:
    """Routers, links, terminators and circuits, kept current with the model."""

    def __init__(self, model: Model, signer: TokenSigner, metrics: ControllerMetrics | None = None,
                 events: EventBus | None = None, *, report_interval_s: float = REPORT_INTERVAL_S,
                 alerts: Alerts | None = None) -> None:
        self.model = model
        self.signer = signer
        self.metrics = metrics or ControllerMetrics()
        self.events = events or EventBus()
        self.report_interval_s = report_interval_s
        self.alerts = alerts or Alerts(self.events)
        self.service_counts = ServiceCounters()
        self.routers = Routers()
        self.router_model = RouterModelFeed(model, self.routers)
        self.links = Links()
        self.terminators = Terminators(on_change=self._terminator_changed)
        self.circuits = Circuits()
        self.traces = IdentityTraces()
        self.routing = Routing(self)
        self._graph: Graph | None = None
        self.ctrl_endpoints: Callable[[], list[str]] | None = None
        """In a cluster: every member's control channel address, for routers to connect to all (docs/ha.md)."""
        model.add_listener(self._on_change)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run circuit set-ups, path changes and the interval reports until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._report_intervals)
            await nursery.start(self.routing.run)
            task_status.started()

    async def _report_intervals(self) -> None:
        """Every interval: the service events of the dials it saw, and the routers' certificates checked."""
        while True:
            await trio.sleep(self.report_interval_s)
            self.service_counts.flush(self.events)
            for router in self.routers:
                self._check_certificate(router.id)

    def _check_certificate(self, router_id: str) -> None:
        entity = self.model.maybe(Kind.EDGE_ROUTERS, router_id)
        if entity is not None:
            self.alerts.router_certificate(router_id, str(entity.get("certPem") or ""))

    def router_state(self, router_id: str) -> dict[str, Any]:
        return self.routers.state(router_id)

    def revocations(self) -> dict[str, list[str]]:
        """Every stored revocation id, split by kind, for a router's hello reply."""
        out: dict[str, list[str]] = {"apiSessions": [], "sessions": [], "certs": []}
        for r in self.model.all(Kind.REVOCATIONS):
            if r.get("type") in ROUTER_REVOCATIONS:
                out[ROUTER_REVOCATIONS[r["type"]]].append(r["id"])
        return out

    def hello_reply_fields(self, router: Entity) -> dict[str, Any]:
        fields = {"routerId": router["id"], "routerName": router["name"], "issuer": self.signer.issuer,
                  "signingKey": self.signer.public_key_pem(), "revocations": self.revocations(),
                  "routers": self.roster(), "metricsIntervalS": self.report_interval_s}
        if self.ctrl_endpoints is not None:
            fields["ctrlEndpoints"] = self.ctrl_endpoints()
        return fields

    def roster(self) -> list[dict[str, str]]:
        """The online routers, as routers need them to link up."""
        out = []
        for router in self.routers:
            entity = self.model.maybe(Kind.EDGE_ROUTERS, router.id)
            if entity is not None and entity.get("fingerprint"):
                out.append({"id": router.id, "name": router.name, "fingerprint": entity["fingerprint"],
                            "linkAddress": router.link_address})
        return out

    def _push_roster(self) -> None:
        msg = ctrl.message(ctrl.CtrlType.ROUTERS, routers=self.roster())
        for router in self.routers:
            router.push(msg)

    def graph(self) -> Graph:
        """Online routers and live links, for path selection; rebuilt after any change to them."""
        if self._graph is None:
            nodes = []
            for router_id in self.routers.online_ids():
                e = self.model.maybe(Kind.EDGE_ROUTERS, router_id) or {}
                nodes.append(RouterNode(router_id, int(e.get("cost") or 0), bool(e.get("noTraversal")),
                                        bool(e.get("disabled"))))
            self._graph = Graph(nodes, self.links.edges())
        return self._graph

    def costs_changed(self, what: str) -> None:
        """A router's or link's cost or usability changed: new paths for new circuits, and a
        look at the live ones (moved if they can no longer be used or a much cheaper path exists)."""
        self._graph = None
        self.routing.revise(what)

    # --- router life ------------------------------------------------------------------------

    def connected(self, router: ConnectedRouter) -> None:
        old = self.routers.add(router)
        if old is not None:
            old.disconnect()
        self._graph = None
        self.router_model.send_snapshot(router)
        self.events.publish(RouterEvent(router_id=router.id, online=True))
        self._check_certificate(router.id)
        log.info("router %s (%s) online, edge %s, links %s", router.name, router.id, router.edge_address or "-",
                 router.link_address or "-")
        self._push_roster()

    def disconnected(self, router: ConnectedRouter) -> None:
        if not self.routers.remove(router):
            return
        self._graph = None
        terminators = self.terminators.remove_router(router.id)
        ended = self.circuits.ending_at(router.id)
        for circuit in ended:
            self.forget_circuit(circuit.id)
            self._tell_path(circuit, router.id, "a router on the path went offline")
        links = self.links.remove_router(router.id)
        for link in links:
            self._link_event("fault", link)
        self.events.publish(RouterEvent(router_id=router.id, online=False))
        self.routing.reroute_all(self.circuits.through(router_id=router.id), "a transit router went offline")
        for link in links:
            self.routing.reroute_all(self.circuits.through(link_id=link.id), f"link {link.id} went away")
        log.info("router %s (%s) offline: dropped %d terminator(s), %d circuit(s), %d link(s)", router.name,
                 router.id, len(terminators), len(ended), len(links))
        self._push_roster()

    # --- links ------------------------------------------------------------------------------

    def link_up(self, link: ReportedLink) -> ReportedLink:
        known = self.links.add(link)
        if known is link:
            self._link_event("routerLinkNew", link)
            self.costs_changed(f"link {link.id} came up")
        else:
            self._link_event("routerLinkKnown", known)
        return known

    def link_to_offline_router(self, link: ReportedLink) -> None:
        """A router reported a link whose other router is not connected: ignored, as OpenZiti, with its
        ``routerLinkDisconnectedDest`` event."""
        self._link_event("routerLinkDisconnectedDest", link)

    def _link_event(self, event_type: str, link: ReportedLink) -> None:
        if event_type == "fault":
            self.alerts.link_fault(link.id, link.src, link.dst)
        dst = self.routers.get(link.dst)
        self.events.publish(LinkEvent(event_type=event_type, link_id=link.id, src_router_id=link.src,
                                      dst_router_id=link.dst, dial_address=dst.link_address if dst else "",
                                      cost=link.cost))

    def link_gone(self, link_id: str, reason: str) -> ReportedLink | None:
        link = self.links.remove(link_id)
        if link is not None:
            self._graph = None
            self._link_event("fault", link)
            log.info("link %s (%s - %s) gone: %s", link.id, link.src, link.dst, reason)
            self.routing.reroute_all(self.circuits.through(link_id=link_id), f"link {link_id} went away")
        return link

    def fault_link(self, link_id: str, reason: str) -> None:
        """An administrator deleted a link: forget it (its circuits are rerouted) and tell its two routers
        to close it; they dial each other again (docs/fabric.md). An unknown link is nothing to do."""
        link = self.link_gone(link_id, reason)
        if link is None:
            return
        for router_id in (link.src, link.dst):
            router = self.routers.get(router_id)
            if router is not None:
                router.push(ctrl.message(ctrl.CtrlType.FAULT_LINK, id=link_id))

    def update_link(self, link_id: str, *, down: bool | None = None, static_cost: int | None = None) -> ReportedLink:
        """An administrator marks a link down (or up) or sets its static cost."""
        link = self.links.get(link_id)
        if link is None:
            raise NotFoundError("links", link_id)
        if static_cost is not None and static_cost != link.static_cost:
            link.static_cost = static_cost
            self.costs_changed(f"link {link_id} has a new static cost")
        if down is not None and down != link.down:
            link.down = down
            self.costs_changed(f"link {link_id} was marked {'down' if down else 'up'}")
        return link

    def link_latency(self, link: ReportedLink, router_id: str, latency_ms: float) -> None:
        """One end of ``link`` measured its latency."""
        cost = link.cost
        if router_id == link.src:
            link.src_latency_ms = latency_ms
        else:
            link.dst_latency_ms = latency_ms
        if link.cost != cost:
            self.costs_changed(f"the latency of link {link.id} changed")

    def _terminator_changed(self, before: Terminator | None, after: Terminator | None) -> None:
        """A router's live terminator as OpenZiti reports terminators: an entityChange (docs/events.md)."""
        changed = after or before
        assert changed is not None
        publish_entity_change(self.events, Kind.TERMINATORS, before.entity() if before else None,
                              after.entity() if after else None, author={"type": "router", "id": changed.router_id},
                              method="terminator" if after else "terminator.removed")

    # --- circuits ---------------------------------------------------------------------------

    def circuit_created(self, circuit: Circuit, duration_s: float) -> None:
        """A circuit's dialer got its answer: count it and publish ``circuit`` ``created``."""
        self.metrics.circuit_created(duration_s)
        self.service_counts.dial_succeeded(circuit.service_id, circuit.terminator_id)
        circuit.established = True
        self._circuit_event("created", circuit, creation_timespan_ns=int(duration_s * 1e9))
        self.traces.note(circuit.client_id, "establish.path", "circuit %s to service %s established via %s, "
                         "terminator %s", circuit.id, circuit.service_id, circuit.nodes, circuit.terminator_id)

    def circuit_failed(self, code: str, cause: str, circuit: Circuit | None = None, *,
                       client_id: str = "", service_id: str = "", session_id: str = "") -> None:
        """A dial failed: count it and publish ``circuit`` ``failed``."""
        self.metrics.circuit_failed(code)
        self.service_counts.dial_failed(circuit.service_id if circuit else service_id,
                                        circuit.terminator_id if circuit else "", code)
        self.alerts.dial_failed(circuit.service_id if circuit else service_id, code,
                                circuit.client_id if circuit else client_id)
        self.traces.note(circuit.client_id if circuit else client_id, "select.path",
                         "dial of service %s failed (%s): %s", circuit.service_id if circuit else service_id, code,
                         cause)
        if circuit is not None:
            self._circuit_event("failed", circuit, failure_cause=code)
        else:
            self.events.publish(CircuitEvent("failed", circuit_body("", client_id, service_id, session_id=session_id),
                                             failure_cause=code))
        log.debug("dial failed (%s): %s", code, cause)

    def usage_reported(self, router: ConnectedRouter, report: UsageReport) -> None:
        """A router's bytes per circuit and link and its links' latency in one interval: usage and metrics
        events and byte counters."""

        record_usage(report, router.id, bus=self.events, metrics=self.metrics, circuit_of=self.circuits.known)
        publish_link_latency(report.link_latency, router.id, bus=self.events, links=self.links)

    def circuit_moved(self, circuit: Circuit) -> None:
        self._circuit_event("pathUpdated", circuit)

    def _circuit_event(self, event_type: str, circuit: Circuit, creation_timespan_ns: int | None = None,
                       duration_ns: int | None = None, failure_cause: str | None = None) -> None:
        if self.events.wants("circuit"):
            # the constant part of the JSON is encoded once per circuit (docs/events.md, "Cost")
            body = circuit.event_body
            if not body or event_type == "pathUpdated":
                circuit.event_body = body = circuit_body(circuit.id, circuit.client_id, circuit.service_id,
                                                         circuit.terminator_id, circuit.session_id, circuit.host_id,
                                                         tuple(circuit.nodes), tuple(circuit.links))
            self.events.publish(CircuitEvent(event_type, body, creation_timespan_ns, duration_ns, failure_cause))

    def forget_circuit(self, circuit_id: str) -> Circuit | None:
        """Drop a circuit from memory; one its dialer had (``created``) is published as ``deleted``."""
        circuit = self.circuits.remove(circuit_id)
        if circuit is not None and circuit.established:
            self._circuit_event("deleted", circuit, duration_ns=circuit.age_ns())
        return circuit

    def close_circuit(self, circuit_id: str, reason: str) -> Circuit | None:
        """Forget a circuit and tell the routers on its path to close it."""
        circuit = self.forget_circuit(circuit_id)
        if circuit is not None:
            self._tell_path(circuit, None, reason)
        return circuit

    def _tell_path(self, circuit: Circuit, skip: str | None, reason: str) -> None:
        for router_id in circuit.routers - {skip}:
            self.tell(router_id, circuit.id, reason)

    def tell(self, router_id: str, circuit_id: str, reason: str) -> None:
        """``CLOSE_CIRCUIT`` to one router (it closes its end or drops its route)."""
        router = self.routers.get(router_id)
        if router is not None:
            router.push(ctrl.message(ctrl.CtrlType.CLOSE_CIRCUIT, id=circuit_id, reason=reason))

    # --- model changes ----------------------------------------------------------------------

    def _on_change(self, command: Command, previous: Previous) -> None:
        revoked: dict[str, list[str]] = {"apiSessions": [], "sessions": [], "certs": []}
        for change in command.changes:
            if change.kind == Kind.REVOCATIONS and isinstance(change, Put):
                if change.data.get("type") in ROUTER_REVOCATIONS:
                    revoked[ROUTER_REVOCATIONS[change.data["type"]]].append(change.id)
            elif change.kind == Kind.EDGE_ROUTERS and isinstance(change, Delete):
                router = self.routers.get(change.id)
                if router is not None:
                    router.disconnect()
            elif change.kind == Kind.EDGE_ROUTERS and self.routers.get(change.id) is not None:
                self.costs_changed(f"router {change.id} was updated")
            elif change.kind == Kind.SERVICES and isinstance(change, Delete):
                for t in self.terminators.for_service(change.id):
                    self.terminators.remove(t.id)
        if any(revoked.values()):
            msg = ctrl.message(ctrl.CtrlType.REVOCATIONS, **revoked)
            for router in self.routers:
                router.push(msg)
