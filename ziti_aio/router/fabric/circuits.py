"""The circuits this router has an end of, by id: the one place they are registered and found.

A circuit is added by whoever set it up (the edge's dial, once both ends are connected) and
removes itself when it finishes. Ends fed by links (:class:`LinkedEnd`: this router holds one end,
the other is across links) are also found by the forwarder, which hands them payloads and acks.
Transit routers hold no circuits, only routes (:mod:`ziti_aio.router.fabric.forwarder`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ziti_aio.router.metrics import UsageMeter

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ziti_aio.wire.link import Ack, Payload


class Circuit(Protocol):
    """A circuit with an end on this router, as the table and the controller's messages see it."""

    @property
    def id(self) -> str: ...

    async def close(self, reason: str, *, notify_ctrl: bool = True) -> None:
        """Close it; ``notify_ctrl=False`` when the controller ordered the close (drop it at once)."""


class LinkedEnd(Circuit, Protocol):
    """This router's end of a circuit whose other end is across links."""

    def on_payload(self, payload: Payload) -> None:
        """A payload from the far end (inline in a link's reader: must not wait)."""

    def on_ack(self, ack: Ack) -> None:
        """An ack from the far end (inline in a link's reader: must not wait)."""

    def rerouted(self) -> None:
        """The controller moved the circuit to another path: resend what is unacknowledged."""


class CircuitTable:
    """Circuits by id; linked ends are also kept apart for the forwarder. ``usage`` counts the bytes
    they move (:mod:`ziti_aio.router.metrics`)."""

    def __init__(self) -> None:
        self._circuits: dict[str, Circuit] = {}
        self._linked: dict[str, LinkedEnd] = {}
        self.usage = UsageMeter()

    def __contains__(self, circuit_id: str) -> bool:
        return circuit_id in self._circuits

    def add(self, circuit: Circuit) -> None:
        """Register a circuit whose ends are both on this router."""
        self._circuits[circuit.id] = circuit

    def add_linked(self, end: LinkedEnd) -> None:
        """Register this router's end of a circuit whose other end is across links."""
        self._circuits[end.id] = end
        self._linked[end.id] = end

    def remove(self, circuit: Circuit) -> bool:
        """Forget ``circuit`` if it is the one registered under its id; ``True`` if it was."""
        if self._circuits.get(circuit.id) is not circuit:
            return False
        del self._circuits[circuit.id]
        if self._linked.get(circuit.id) is circuit:
            del self._linked[circuit.id]
        return True

    def get(self, circuit_id: str) -> Circuit | None:
        return self._circuits.get(circuit_id)

    def linked(self, circuit_id: str) -> LinkedEnd | None:
        """The end fed by links of circuit ``circuit_id``, if this router holds one."""
        return self._linked.get(circuit_id)

    def linked_ends(self) -> Iterator[LinkedEnd]:
        return iter(list(self._linked.values()))
