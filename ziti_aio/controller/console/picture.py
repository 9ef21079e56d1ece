"""The overview's picture of the network: routers on a circle, links as lines between them, drawn as SVG by
the template from the coordinates computed here (presentation attributes only: the CSP allows no inline
style)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

WIDTH = 640
HEIGHT = 360
MARGIN = 60
MAX_LABEL = 24


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    x: float
    y: float
    online: bool


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    up: bool
    title: str


def _label(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[:MAX_LABEL - 1] + "…"


def layout(routers: list[dict[str, Any]], links: list[dict[str, Any]]) -> tuple[list[Node], list[Edge]]:
    """Positions of ``routers`` (management API edge routers) and the ``links`` between them."""
    cx, cy = WIDTH / 2, HEIGHT / 2
    radius = min(cx, cy) - MARGIN
    nodes: dict[str, Node] = {}
    for n, router in enumerate(sorted(routers, key=lambda r: r.get("name", ""))):
        angle = 2 * math.pi * n / max(len(routers), 1) - math.pi / 2
        x, y = (cx, cy) if len(routers) == 1 else (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
        nodes[router["id"]] = Node(router["id"], _label(router.get("name", router["id"])), round(x, 1),
                                   round(y, 1), bool(router.get("isOnline")))
    edges = []
    for link in links:
        src = nodes.get((link.get("sourceRouter") or {}).get("id", ""))
        dst = nodes.get((link.get("destRouter") or {}).get("id", ""))
        if src is None or dst is None:
            continue
        up = link.get("state") == "Connected" and not link.get("down")
        edges.append(Edge(src.x, src.y, dst.x, dst.y, up,
                          f"{src.label} → {dst.label}: {link.get('state', '')}, cost {link.get('cost', '')}"))
    return list(nodes.values()), edges
