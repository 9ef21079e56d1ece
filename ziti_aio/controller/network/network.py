"""The controller's view of the data plane: connected routers, terminators and circuits.

Model changes reach routers from here: a stored revocation (API session or session) is pushed
to every connected router at once, deleting an edge router drops its control channel, and
closing a circuit (management API) tells the routers on its path.
"""

from __future__ import annotations

import logging
from typing import Any

from ziti_aio.controller.model.model import Entity, Model
from ziti_aio.controller.model.tokens import TokenSigner
from ziti_aio.controller.network.circuits import Circuit, Circuits
from ziti_aio.controller.network.routers import ConnectedRouter, Routers
from ziti_aio.controller.network.terminators import Terminators
from ziti_aio.controller.store.commands import Command, Delete, Put
from ziti_aio.wire import ctrl

log = logging.getLogger(__name__)


class Network:
    """Routers, terminators and circuits, kept current with the model."""

    def __init__(self, model: Model, signer: TokenSigner) -> None:
        self.model = model
        self.signer = signer
        self.routers = Routers()
        self.terminators = Terminators()
        self.circuits = Circuits()
        model.add_listener(self._on_change)

    def router_state(self, router_id: str) -> dict[str, Any]:
        return self.routers.state(router_id)

    def revocations(self) -> dict[str, list[str]]:
        """Every stored revocation id, split by kind, for a router's hello reply."""
        out: dict[str, list[str]] = {"apiSessions": [], "sessions": []}
        for r in self.model.all("revocations"):
            out["apiSessions" if r.get("type") == "API_SESSION" else "sessions"].append(r["id"])
        return out

    def hello_reply_fields(self, router: Entity) -> dict[str, Any]:
        return {"routerId": router["id"], "routerName": router["name"], "issuer": self.signer.issuer,
                "signingKey": self.signer.public_key_pem(), "revocations": self.revocations()}

    # --- router life ------------------------------------------------------------------------

    def connected(self, router: ConnectedRouter) -> None:
        old = self.routers.add(router)
        if old is not None:
            old.disconnect()
        log.info("router %s (%s) online, edge %s", router.name, router.id, router.edge_address or "-")

    def disconnected(self, router: ConnectedRouter) -> None:
        if not self.routers.remove(router):
            return
        terminators = self.terminators.remove_router(router.id)
        circuits = self.circuits.remove_router(router.id)
        for circuit in circuits:
            self._tell_path(circuit, router.id, "a router on the path went offline")
        log.info("router %s (%s) offline: dropped %d terminator(s), %d circuit(s)", router.name, router.id,
                 len(terminators), len(circuits))

    # --- circuits ---------------------------------------------------------------------------

    def close_circuit(self, circuit_id: str, reason: str) -> Circuit | None:
        """Forget a circuit and tell the routers on its path to close it."""
        circuit = self.circuits.remove(circuit_id)
        if circuit is not None:
            self._tell_path(circuit, None, reason)
        return circuit

    def _tell_path(self, circuit: Circuit, skip: str | None, reason: str) -> None:
        for router_id in circuit.routers - {skip}:
            router = self.routers.get(router_id)
            if router is not None:
                router.push(ctrl.message(ctrl.CtrlType.CLOSE_CIRCUIT, id=circuit.id, reason=reason))

    # --- model changes ----------------------------------------------------------------------

    def _on_change(self, command: Command, previous: dict[tuple[str, str], Entity | None]) -> None:
        api_sessions: list[str] = []
        sessions: list[str] = []
        for change in command.changes:
            if change.kind == "revocations" and isinstance(change, Put):
                (api_sessions if change.data.get("type") == "API_SESSION" else sessions).append(change.id)
            elif change.kind == "edge-routers" and isinstance(change, Delete):
                router = self.routers.get(change.id)
                if router is not None:
                    router.disconnect()
            elif change.kind == "services" and isinstance(change, Delete):
                for t in self.terminators.for_service(change.id):
                    self.terminators.remove(t.id)
        if api_sessions or sessions:
            msg = ctrl.message(ctrl.CtrlType.REVOCATIONS, apiSessions=api_sessions, sessions=sessions)
            for router in self.routers:
                router.push(msg)
