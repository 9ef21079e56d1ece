"""Terminators routers create for SDK binds, kept in memory, and OpenZiti's selection strategies.

A router-created terminator lives as long as its bind and its router's control channel. It is
rendered like a stored terminator (binding ``edge``) so management listings show both.

Selection (as OpenZiti): the highest precedence group present wins (required > default >
failed); within it ``smartrouting`` (and ``sticky``) takes the lowest cost (terminator cost + the cost of
the path to its router), picking at random among equals; ``weighted`` picks at random with lower
costs more likely (weight 1 / (1 + cost)); ``random`` uniformly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ConflictError
from ziti_aio.controller.model.fields import now_text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    TerminatorChange = Callable[["Terminator | None", "Terminator | None"], None]

# Lower wins; the keys are the terminator precedences of :mod:`ziti_aio.controller.model.records`.
PRECEDENCE_RANK = {"required": 0, "default": 1, "failed": 2}
BINDING = "edge"


@dataclass
class Terminator:
    """One live terminator on one router."""

    id: str
    service_id: str
    router_id: str
    address: str
    identity: str = ""
    cost: int = 0
    precedence: str = "default"
    identity_id: str = ""
    session_id: str = ""
    created_at: str = field(default_factory=now_text)

    def entity(self) -> dict[str, Any]:
        """The stored-terminator shape, for rendering and filtering with stored ones."""
        return {
            "id": self.id, "createdAt": self.created_at, "updatedAt": self.created_at, "tags": {},
            "service": self.service_id, "router": self.router_id, "binding": BINDING, "address": self.address,
            "identity": self.identity, "cost": self.cost, "precedence": self.precedence,
        }


class Terminators:
    """The live terminators, by id and by service; ``on_change(before, after)`` hears of each one added,
    replaced or removed."""

    def __init__(self, rng: random.Random | None = None, on_change: TerminatorChange | None = None) -> None:
        self._by_id: dict[str, Terminator] = {}
        self._by_service: dict[str, dict[str, Terminator]] = {}  # a dial looks at its service's only
        self._rng = rng or random.Random()
        self._on_change = on_change or (lambda before, after: None)

    def __iter__(self) -> Iterator[Terminator]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, terminator_id: str) -> Terminator | None:
        return self._by_id.get(terminator_id)

    def add(self, terminator: Terminator) -> None:
        """Add (or replace, for the same router) a terminator; another router's id is a conflict."""
        old = self._by_id.get(terminator.id)
        if old is not None and old.router_id != terminator.router_id:
            raise ConflictError(f"terminator {terminator.id} belongs to another router")
        if old is not None:
            self._unindex(old)
        self._by_id[terminator.id] = terminator
        self._by_service.setdefault(terminator.service_id, {})[terminator.id] = terminator
        self._on_change(old, terminator)

    def _unindex(self, terminator: Terminator) -> None:
        same = self._by_service.get(terminator.service_id, {})
        same.pop(terminator.id, None)
        if not same:
            self._by_service.pop(terminator.service_id, None)

    def remove(self, terminator_id: str, router_id: str | None = None) -> Terminator | None:
        """Remove a terminator (only if it is ``router_id``'s, when given)."""
        found = self._by_id.get(terminator_id)
        if found is None or (router_id is not None and found.router_id != router_id):
            return None
        self._unindex(found)
        del self._by_id[terminator_id]
        self._on_change(found, None)
        return found

    def remove_router(self, router_id: str) -> list[Terminator]:
        """Drop every terminator of a router (its control channel closed)."""
        gone = [t for t in self._by_id.values() if t.router_id == router_id]
        for t in gone:
            del self._by_id[t.id]
            self._unindex(t)
            self._on_change(t, None)
        return gone

    def for_service(self, service_id: str) -> list[Terminator]:
        return list(self._by_service.get(service_id, {}).values())

    def select(self, service_id: str, strategy: str, *, identity: str = "",
               path_costs: dict[str, int] | None = None) -> Terminator | None:
        """Pick a terminator for a new circuit, or ``None`` when none fits.

        ``identity`` restricts to terminators bound with that terminator identity; ``path_costs``
        (router id -> cost of the path from the dialer's router) restricts to reachable routers
        and adds the path's cost to each terminator's own.
        """
        candidates = [t for t in self.for_service(service_id)
                      if (not identity or t.identity == identity) and (path_costs is None or t.router_id in path_costs)]
        if not candidates:
            return None
        best = min(PRECEDENCE_RANK.get(t.precedence, 1) for t in candidates)
        group = [t for t in candidates if PRECEDENCE_RANK.get(t.precedence, 1) == best]
        if strategy == "random":
            return self._rng.choice(group)
        costs = [t.cost + (path_costs or {}).get(t.router_id, 0) for t in group]
        if strategy == "weighted":
            return self._rng.choices(group, weights=[1 / (1 + c) for c in costs], k=1)[0]
        lowest = min(costs)
        return self._rng.choice([t for t, c in zip(group, costs, strict=True) if c == lowest])
