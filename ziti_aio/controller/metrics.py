"""The controller's Prometheus metrics (docs/operations.md), one registry per controller.

Events (requests, logins, circuit set-ups) are counted as they happen; what is live (routers
online, links, circuits, sessions) is read from the network and the model when scraped, so it
can never drift from what the APIs list. Labels hold only route templates, status codes, login
methods and outcomes, error codes and link ids: never an identity, a name, a token or anything else
a caller chose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ziti_aio.controller.kinds import Kind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from ziti_aio.controller.cluster.replica import Replica
    from ziti_aio.controller.model.model import Model
    from ziti_aio.controller.network.network import Network

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LOGIN_METHODS = frozenset({"password", "cert", "ext-jwt", "mfa"})
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; an API call or a circuit set-up is a few ms on a LAN and seconds when something is wrong.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ControllerMetrics:
    """Counters and histograms of one controller, and the scrape of its live state."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter("ziti_api_requests", "API requests answered, by route template and status",
                                ["method", "route", "status"], registry=reg)
        self.request_latency = Histogram("ziti_api_request_duration_seconds", "Time to answer an API request",
                                         ["route"], buckets=LATENCY_BUCKETS_S, registry=reg)
        self.logins = Counter("ziti_logins", "Authentication attempts, by method and outcome",
                              ["method", "outcome"], registry=reg)
        self.circuits_created = Counter("ziti_circuits_created", "Circuits set up for dials", registry=reg)
        self.circuits_failed = Counter("ziti_circuits_failed", "Dials that got no circuit, by error code",
                                       ["code"], registry=reg)
        self.dial_latency = Histogram("ziti_circuit_setup_duration_seconds",
                                      "Time from a router's dial request to the circuit's answer",
                                      buckets=LATENCY_BUCKETS_S, registry=reg)
        self.router_bytes = Counter("ziti_router_bytes", "Bytes routers moved for circuits, by router id and "
                                    "usage type (ingress/egress/fabric .rx/.tx)", ["router", "type"], registry=reg)
        self.service_bytes = Counter("ziti_service_bytes", "Bytes moved for circuits, by service id and usage type",
                                     ["service", "type"], registry=reg)
        self.link_bytes_total = Counter("ziti_link_bytes", "Bytes through links, by link id, reporting router id "
                                        "and direction", ["link", "router", "direction"], registry=reg)

    def watch(self, model: Model, network: Network | None) -> None:
        """Report ``model``'s and ``network``'s live figures on every scrape."""
        self.registry.register(_LiveState(model, network))

    def watch_cluster(self, replica: Replica) -> None:
        """Report a cluster member's Raft state on every scrape (docs/ha.md)."""
        self.registry.register(_RaftState(replica))

    def request(self, method: str, route: str | None, status: int, duration_s: float) -> None:
        """One answered API request; ``route`` is the matched template (``None``: nothing matched), and a
        method no API has is counted as ``other`` (labels stay a closed set whatever callers send)."""
        template = route or "unmatched"
        self.requests.labels(method if method in HTTP_METHODS else "other", template, str(status)).inc()
        self.request_latency.labels(template).observe(duration_s)

    def login(self, method: str, success: bool) -> None:
        """One ``/authenticate`` call; an unknown method is counted as ``other``."""
        self.logins.labels(method if method in LOGIN_METHODS else "other",
                           "success" if success else "failure").inc()

    def circuit_created(self, duration_s: float) -> None:
        self.circuits_created.inc()
        self.dial_latency.observe(duration_s)

    def circuit_failed(self, code: str) -> None:
        self.circuits_failed.labels(code).inc()

    def usage(self, router_id: str, service_id: str, usage_type: str, count: int) -> None:
        """Bytes a router reported for a circuit (``service_id`` empty when the circuit is unknown)."""
        self.router_bytes.labels(router_id, usage_type).inc(count)
        if service_id:
            self.service_bytes.labels(service_id, usage_type).inc(count)

    def link_bytes(self, link_id: str, router_id: str, rx: int, tx: int) -> None:
        """Bytes one end of a link received and sent in an interval."""
        if rx:
            self.link_bytes_total.labels(link_id, router_id, "rx").inc(rx)
        if tx:
            self.link_bytes_total.labels(link_id, router_id, "tx").inc(tx)

    def exposition(self) -> bytes:
        """The Prometheus text format of everything above."""
        return generate_latest(self.registry)


class _LiveState:
    """A collector reading current counts at scrape time."""

    def __init__(self, model: Model, network: Network | None) -> None:
        self.model = model
        self.network = network

    def collect(self) -> Iterator[Metric]:
        model, network = self.model, self.network
        yield _gauge("ziti_api_sessions_active", "API sessions (logins) not yet expired or logged out",
                     _count(model, Kind.API_SESSIONS))
        yield _gauge("ziti_sessions_active", "Service sessions (dial and bind grants)", _count(model, Kind.SESSIONS))
        yield _gauge("ziti_routers_enabled", "Edge routers that exist and are not disabled",
                     sum(1 for r in model.all(Kind.EDGE_ROUTERS) if not r.get("disabled")))
        if network is None:
            return
        yield _gauge("ziti_routers_online", "Edge routers with a control channel to this controller",
                     len(network.routers.online_ids()))
        yield _gauge("ziti_links", "Router-to-router links reported up", len(network.links))
        latency = GaugeMetricFamily("ziti_link_latency_seconds", "Round-trip latency each end of a link measured",
                                    labels=["link", "end"])
        for link in network.links:
            for end, ms in (("source", link.src_latency_ms), ("dest", link.dst_latency_ms)):
                if ms is not None:
                    latency.add_metric([link.id, end], ms / 1000)
        yield latency
        yield _gauge("ziti_circuits_active", "Circuits currently set up", len(network.circuits))
        yield _gauge("ziti_terminators", "Terminators of hosted services", len(network.terminators))


class _RaftState:
    """A cluster member's view of the Raft cluster at scrape time."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def collect(self) -> Iterator[Metric]:
        replica = self.replica
        members = replica.members()
        yield _gauge("ziti_raft_is_leader", "1 if this controller is the cluster's leader", int(replica.is_leader))
        yield _gauge("ziti_raft_writable", "1 if this controller accepts writes now (a leader with its term's "
                     "first entry applied)", int(replica.writable))
        yield _gauge("ziti_raft_term", "The Raft term this controller is in", replica.term)
        yield _gauge("ziti_raft_applied_index", "The last Raft log index applied to this controller's model",
                     replica.applied_index)
        yield _gauge("ziti_raft_members", "Members of the cluster, this one included", len(members))
        yield _gauge("ziti_raft_members_connected", "Other members this controller has a connection to",
                     sum(1 for m in members if m["connected"] and m["id"] != replica.node_id))


def _count(model: Model, kind: Kind) -> int:
    return sum(1 for _ in model.all(kind))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
