"""Router-to-router links as routers report them, with the administrator's static cost and ``down`` mark.

A link lives while at least one of its routers reports it up and both are connected to this
controller. Its cost for path selection is the static cost (default 1, as OpenZiti) plus the
mean of the latencies (ms) its two ends measured; unmeasured ends count as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.network.paths import LinkEdge

if TYPE_CHECKING:
    from collections.abc import Iterator

DEFAULT_STATIC_COST = 1
MAX_STATIC_COST = 2**31 - 1
STATE_CONNECTED = "Connected"


@dataclass
class ReportedLink:
    """One router-to-router link as its routers report it: ``src`` dialed ``dst`` (the routers hold the
    link itself)."""

    id: str
    src: str
    dst: str
    static_cost: int = DEFAULT_STATIC_COST
    down: bool = False
    src_latency_ms: float | None = None
    dst_latency_ms: float | None = None
    created_at: str = field(default_factory=now_text)

    @property
    def latency_ms(self) -> int:
        known = [v for v in (self.src_latency_ms, self.dst_latency_ms) if v is not None]
        return round(sum(known) / len(known)) if known else 0

    @property
    def cost(self) -> int:
        return self.static_cost + self.latency_ms

    def edge(self) -> LinkEdge:
        return LinkEdge(self.id, self.src, self.dst, self.cost, self.down)

    def other(self, router_id: str) -> str:
        return self.dst if router_id == self.src else self.src

    def entity(self) -> dict[str, Any]:
        """The flat record listings filter and sort on."""
        return {"id": self.id, "createdAt": self.created_at, "updatedAt": self.created_at, "tags": {},
                "sourceRouterId": self.src, "destRouterId": self.dst, "state": STATE_CONNECTED,
                "cost": self.cost, "staticCost": self.static_cost, "down": self.down}


class Links:
    """Live links by id."""

    def __init__(self) -> None:
        self._by_id: dict[str, ReportedLink] = {}

    def __iter__(self) -> Iterator[ReportedLink]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, link_id: str) -> ReportedLink | None:
        return self._by_id.get(link_id)

    def add(self, link: ReportedLink) -> ReportedLink:
        """Register ``link`` (idempotent: a link reported by both ends is kept once)."""
        return self._by_id.setdefault(link.id, link)

    def remove(self, link_id: str) -> ReportedLink | None:
        return self._by_id.pop(link_id, None)

    def remove_router(self, router_id: str) -> list[ReportedLink]:
        """Drop every link of a router (it went offline)."""
        gone = [link for link in self._by_id.values() if router_id in (link.src, link.dst)]
        for link in gone:
            del self._by_id[link.id]
        return gone

    def edges(self) -> list[LinkEdge]:
        return [link.edge() for link in self._by_id.values()]
