"""Path selection over the router graph ("smart routing"), pure: no I/O, no clock.

The cost of a path is the sum of its links' costs (measured latency in ms + static cost) plus
the cost of every router on it, ends included. Costs are Python ints: any size, no overflow.
Routers marked ``disabled`` are never used, routers with ``no_traversal`` only as the first or
last node, links marked ``down`` never. Links carry traffic both ways. Ties go to the path
with fewer hops, then to the link with the smaller id, so a choice is stable.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


@dataclass(frozen=True, slots=True)
class RouterNode:
    """A router as path selection sees it."""

    id: str
    cost: int = 0
    no_traversal: bool = False
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class LinkEdge:
    """A link between two routers with its total cost (latency + static cost)."""

    id: str
    src: str
    dst: str
    cost: int
    down: bool = False


@dataclass(frozen=True, slots=True)
class Path:
    """Router ids from the initiator's router to the terminator's, the link ids between them, the cost."""

    nodes: tuple[str, ...]
    links: tuple[str, ...]
    cost: int


Search = dict[str, tuple[int, int, str | None, LinkEdge | None]]


class Graph:
    """Usable routers and links; ask it for costs and shortest paths from one router.

    A graph is a snapshot: build a new one when the topology or a cost changes. Searches are
    remembered per source router, so the dials of one snapshot share them.
    """

    def __init__(self, routers: Iterable[RouterNode], links: Iterable[LinkEdge]) -> None:
        self.routers = {r.id: r for r in routers if not r.disabled}
        self.links: dict[str, LinkEdge] = {}
        self._adjacent: dict[str, list[tuple[str, LinkEdge]]] = {rid: [] for rid in self.routers}
        self._searches: dict[str, Search] = {}
        for link in links:
            if link.down or link.cost < 0 or link.src == link.dst:
                continue
            if link.src in self.routers and link.dst in self.routers:
                self.links[link.id] = link
                self._adjacent[link.src].append((link.dst, link))
                self._adjacent[link.dst].append((link.src, link))

    def search(self, src: str) -> Search:
        """Dijkstra from ``src``: for every reachable router, ``(cost, hops, previous router, link)``.

        The result is shared by later calls with the same ``src``: do not change it.
        """
        found = self._searches.get(src)
        if found is None:
            found = self._searches[src] = self._search(src)
        return found

    def path_cost(self, nodes: Sequence[str], links: Sequence[str]) -> int | None:
        """The cost of an existing path in this graph, or ``None`` if it may no longer be used
        (a router offline or disabled, a middle router with ``no_traversal``, a link gone or down)."""
        if len(links) != len(nodes) - 1 or any(n not in self.routers for n in nodes):
            return None
        if any(self.routers[n].no_traversal for n in nodes[1:-1]):
            return None
        cost = sum(self.routers[n].cost for n in nodes)
        for i, link_id in enumerate(links):
            link = self.links.get(link_id)
            if link is None or {link.src, link.dst} != {nodes[i], nodes[i + 1]}:
                return None
            cost += link.cost
        return cost

    def _search(self, src: str) -> Search:
        start = self.routers.get(src)
        if start is None:
            return {}
        best: Search = {src: (start.cost, 0, None, None)}
        done: set[str] = set()
        heap: list[tuple[int, int, str]] = [(start.cost, 0, src)]
        while heap:
            cost, hops, node = heapq.heappop(heap)
            if node in done:
                continue
            done.add(node)
            if node != src and self.routers[node].no_traversal:
                continue
            for peer, link in self._adjacent[node]:
                if peer in done:
                    continue
                candidate = (cost + link.cost + self.routers[peer].cost, hops + 1)
                known = best.get(peer)
                if known is None or candidate < known[:2] or (candidate == known[:2] and _tie(link, known[3])):
                    best[peer] = (*candidate, node, link)
                    heapq.heappush(heap, (*candidate, peer))
        return best

    def costs_from(self, src: str) -> dict[str, int]:
        """Path cost from ``src`` to every router it can reach (itself included)."""
        return {rid: entry[0] for rid, entry in self.search(src).items()}

    def shortest_path(self, src: str, dst: str) -> Path | None:
        """The cheapest path from ``src`` to ``dst``, or ``None`` when there is none."""
        return path_to(self.search(src), dst)


def _tie(link: LinkEdge, other: LinkEdge | None) -> bool:
    return other is not None and link.id < other.id


def path_to(search: Search, dst: str) -> Path | None:
    """Rebuild the path to ``dst`` from a :meth:`Graph.search` result."""
    entry = search.get(dst)
    if entry is None:
        return None
    cost = entry[0]
    nodes, links = [dst], []
    while entry[2] is not None:
        assert entry[3] is not None
        links.append(entry[3].id)
        nodes.append(entry[2])
        entry = search[entry[2]]
    return Path(tuple(reversed(nodes)), tuple(reversed(links)), cost)
