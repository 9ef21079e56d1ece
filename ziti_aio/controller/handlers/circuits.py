"""Control messages about circuits: a router asks for one for a dial, or reports one ended."""

from __future__ import annotations

import base64
import logging
import time
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import EncryptionDataMissing, NoTerminators, PathUnavailable, ZitiError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.handlers.grants import MAX_ID_CHARS, grant
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.network.circuits import Circuit
from ziti_aio.controller.network.paths import path_to
from ziti_aio.wire import ctrl
from ziti_aio.wire.errors import WireProtocolError

if TYPE_CHECKING:
    from ziti_aio.controller.network.network import Network
    from ziti_aio.controller.network.routers import ConnectedRouter
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)


def create_circuit(network: Network, router: ConnectedRouter, msg: Message) -> Message | None:
    """:func:`_create_circuit`, counted in the controller's metrics (a multi-router set-up counts itself
    when it ends, in ``Routing``)."""
    started = time.perf_counter()
    try:
        answer, circuit = _create_circuit(network, router, msg, started)
    except ZitiError as exc:
        client_id, service_id, session_id = _dialer(network, msg)
        network.circuit_failed(exc.code, exc.message, client_id=client_id, service_id=service_id,
                               session_id=session_id)
        raise
    if answer is not None:
        network.circuit_created(circuit, time.perf_counter() - started)
    return answer


def _create_circuit(network: Network, router: ConnectedRouter, msg: Message,
                    started: float) -> tuple[Message | None, Circuit]:
    """Check the Dial session against current policy, pick a terminator, record the circuit.

    The terminator is chosen by the service's strategy over terminator cost + path cost from the
    dialer's router. One router: the reply names the terminator and the path at once. Several:
    the routers on the path get their routes first and the reply follows (``Routing.set_up``).
    """
    data = ctrl.parse(msg)
    granted = grant(network.model, data, "Dial", network.router_model.posture)
    identity, service = granted.identity, granted.service
    if service.get("encryptionRequired") and not data.get("encrypted"):
        raise EncryptionDataMissing()
    peer = {"callerId": ctrl.string(data, "callerId", max_length=1024, default=""),
            "publicKey": _base64(data, "publicKey"), "appData": _base64(data, "appData")}
    search = network.graph().search(router.id)
    terminator = network.terminators.select(
        service["id"], service.get("terminatorStrategy", "smartrouting"),
        identity=ctrl.string(data, "identity", max_length=1024, default=""),
        path_costs={router_id: entry[0] for router_id, entry in search.items()})
    if terminator is None:
        if network.terminators.for_service(service["id"]):
            raise PathUnavailable(f"no path from router {router.name} to a terminator of service {service['name']}")
        raise NoTerminators(f"service {service['name']} has no terminators")
    path = path_to(search, terminator.router_id)
    assert path is not None
    # A router that already sent the Dial to the terminator it expected names the circuit itself (docs/router.md).
    proposed = ctrl.string(data, "circuitId", max_length=MAX_ID_CHARS, default="")
    fresh = proposed.isascii() and proposed.isalnum() and network.circuits.known(proposed) is None
    circuit = Circuit(id=proposed if fresh else new_id(),
                      service_id=service["id"], client_id=identity["id"], session_id=granted.session_id,
                      api_session_id=granted.api_session_id, terminator_id=terminator.id, nodes=list(path.nodes),
                      links=list(path.links), host_id=terminator.identity_id)
    network.circuits.add(circuit)
    log.info("circuit %s: %s -> %s via %s", circuit.id, identity["name"], service["name"], circuit.nodes)
    if len(path.nodes) > 1:
        network.routing.set_up(router, msg, circuit, terminator, peer, started=started)
        return None, circuit
    return ctrl.reply(msg, circuitId=circuit.id, path={"nodes": circuit.nodes, "links": []},
                      terminator={"id": terminator.id, "routerId": terminator.router_id,
                                  "address": terminator.address},
                      soleTerminator=len(network.terminators.for_service(service["id"])) == 1), circuit


def _dialer(network: Network, msg: Message) -> tuple[str, str, str]:
    """The identity, service and edge session of a refused dial, for its ``failed`` event: its session's, or for
    a router-model dial (no session) the ids the request names; "" for what cannot be read."""
    try:
        data = ctrl.parse(msg)
    except WireProtocolError:
        return "", "", ""
    session_id = data.get("sessionId")
    stored = network.model.maybe(Kind.SESSIONS, session_id) if isinstance(session_id, str) and session_id else None
    found = stored or data
    client_id, service_id = found.get("identityId"), found.get("serviceId")
    return (client_id if isinstance(client_id, str) else "", service_id if isinstance(service_id, str) else "",
            stored["id"] if stored is not None else "")


def _base64(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    text = ctrl.string(data, key, max_length=16384)
    try:
        base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise WireProtocolError(f"control field {key!r} is not base64") from exc
    return text


def circuit_closed(network: Network, router: ConnectedRouter, msg: Message) -> None:
    """A router ended a circuit: forget it and tell the other routers on its path."""
    data = ctrl.parse(msg)
    circuit_id = ctrl.string(data, "id", max_length=MAX_ID_CHARS)
    circuit = network.circuits.get(circuit_id)
    if circuit is None or router.id not in circuit.routers:
        return
    network.forget_circuit(circuit_id)
    reason = ctrl.string(data, "reason", max_length=1024, default="closed")
    for other in circuit.routers - {router.id}:
        peer = network.routers.get(other)
        if peer is not None:
            peer.push(ctrl.message(ctrl.CtrlType.CLOSE_CIRCUIT, id=circuit_id, reason=reason))
