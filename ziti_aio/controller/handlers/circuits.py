"""Control messages about circuits: a router asks for one for a dial, or reports one ended."""

from __future__ import annotations

import logging

from ziti_aio.common.errors import EncryptionDataMissing, InvalidSession, NoTerminators
from ziti_aio.common.ids import new_id
from ziti_aio.controller.network.circuits import Circuit
from ziti_aio.controller.network.network import Network
from ziti_aio.controller.network.routers import ConnectedRouter
from ziti_aio.wire import ctrl
from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

MAX_ID_CHARS = 64


def create_circuit(network: Network, router: ConnectedRouter, msg: Message) -> Message:
    """Check the Dial session against current policy, pick a terminator, record the circuit.

    The reply names the terminator and the path (router ids; one node when the dialer's router
    hosts the terminator).
    """
    data = ctrl.parse(msg)
    session_id = ctrl.string(data, "sessionId", max_length=MAX_ID_CHARS)
    model = network.model
    session = model.maybe("sessions", session_id)
    if session is None or session["type"] != "Dial":
        raise InvalidSession()
    identity = model.maybe("identities", session["identityId"])
    service = model.maybe("services", session["serviceId"])
    if identity is None or identity.get("disabled") or service is None \
            or "Dial" not in model.policy.permissions_for(identity["id"], service["id"]):
        raise InvalidSession()
    if service.get("encryptionRequired") and not data.get("encrypted"):
        raise EncryptionDataMissing()
    terminator = network.terminators.select(
        service["id"], service.get("terminatorStrategy", "smartrouting"),
        identity=ctrl.string(data, "identity", max_length=1024, default=""),
        usable=network.routers.online_ids())
    if terminator is None:
        raise NoTerminators(f"service {service['name']} has no terminators")
    nodes = [router.id] if terminator.router_id == router.id else [router.id, terminator.router_id]
    circuit = Circuit(id=new_id(), service_id=service["id"], client_id=identity["id"], session_id=session_id,
                      api_session_id=session["apiSessionId"], terminator_id=terminator.id, nodes=nodes)
    network.circuits.add(circuit)
    log.info("circuit %s: %s -> %s via %s", circuit.id, identity["name"], service["name"], nodes)
    return ctrl.reply(msg, circuitId=circuit.id, path={"nodes": nodes, "links": []},
                      terminator={"id": terminator.id, "routerId": terminator.router_id,
                                  "address": terminator.address})


def circuit_closed(network: Network, router: ConnectedRouter, msg: Message) -> None:
    """A router ended a circuit: forget it and tell the other routers on its path."""
    data = ctrl.parse(msg)
    circuit_id = ctrl.string(data, "id", max_length=MAX_ID_CHARS)
    circuit = network.circuits.get(circuit_id)
    if circuit is None or router.id not in circuit.routers:
        return
    network.circuits.remove(circuit_id)
    reason = ctrl.string(data, "reason", max_length=1024, default="closed")
    for other in circuit.routers - {router.id}:
        peer = network.routers.get(other)
        if peer is not None:
            peer.push(ctrl.message(ctrl.CtrlType.CLOSE_CIRCUIT, id=circuit_id, reason=reason))
