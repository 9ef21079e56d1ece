"""Circuits the controller has set up, kept in memory, rendered like OpenZiti's fabric API."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import trio

from ziti_aio.controller.model.fields import now_text


@dataclass
class Circuit:
    """One circuit: a dialer's connection on the first router to a terminator on the last."""

    id: str
    service_id: str
    client_id: str
    session_id: str
    api_session_id: str
    terminator_id: str
    nodes: list[str]
    links: list[str] = field(default_factory=list)
    host_id: str = ""
    """The identity hosting the terminator (usage events' ``hostId`` tag)."""
    created_at: str = field(default_factory=now_text)
    started_ns: int = field(default_factory=time.monotonic_ns, repr=False, compare=False)
    established: bool = False
    """Whether its dialer got the answer (then its end is a ``deleted`` event, docs/events.md)."""
    lock: trio.Lock = field(default_factory=trio.Lock, repr=False, compare=False)
    event_body: bytes = field(default=b"", repr=False, compare=False)
    """Its ``circuit`` events' constant part while its path stays (events.types.circuit_body)."""

    @property
    def routers(self) -> set[str]:
        return set(self.nodes)

    @property
    def ends(self) -> set[str]:
        """The initiator's and the terminator's routers."""
        return {self.nodes[0], self.nodes[-1]}

    def age_ns(self) -> int:
        return time.monotonic_ns() - self.started_ns

    def entity(self) -> dict[str, Any]:
        """The flat record listings filter and sort on."""
        return {"id": self.id, "createdAt": self.created_at, "updatedAt": self.created_at, "tags": {},
                "serviceId": self.service_id, "clientId": self.client_id, "terminatorId": self.terminator_id,
                "sessionId": self.session_id, "apiSessionId": self.api_session_id}


ENDED_KEPT = 10_000
"""Ended circuits remembered for the usage a router reports after the end (docs/events.md)."""


class Circuits:
    """Live circuits by id, and the last :data:`ENDED_KEPT` ended ones."""

    def __init__(self) -> None:
        self._by_id: dict[str, Circuit] = {}
        self._ended: OrderedDict[str, Circuit] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[Circuit]:
        return list(self._by_id.values())

    def get(self, circuit_id: str) -> Circuit | None:
        return self._by_id.get(circuit_id)

    def add(self, circuit: Circuit) -> None:
        self._by_id[circuit.id] = circuit

    def remove(self, circuit_id: str) -> Circuit | None:
        circuit = self._by_id.pop(circuit_id, None)
        if circuit is not None:
            self._ended[circuit_id] = circuit
            if len(self._ended) > ENDED_KEPT:
                self._ended.popitem(last=False)
        return circuit

    def known(self, circuit_id: str) -> Circuit | None:
        """A live circuit, or one that ended recently."""
        return self._by_id.get(circuit_id) or self._ended.get(circuit_id)

    def ending_at(self, router_id: str) -> list[Circuit]:
        """Circuits with an end on ``router_id``."""
        return [c for c in self._by_id.values() if router_id in c.ends]

    def through(self, router_id: str | None = None, link_id: str | None = None) -> list[Circuit]:
        """Circuits whose path uses ``router_id`` as a transit hop, or ``link_id``."""
        return [c for c in self._by_id.values()
                if (router_id is not None and router_id in c.nodes[1:-1])
                or (link_id is not None and link_id in c.links)]
