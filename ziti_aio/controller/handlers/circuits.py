"""Control messages about circuits: a router asks for one for a dial, or reports one ended."""

from __future__ import annotations

import base64
import logging
import time
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import EncryptionDataMissing, InvalidSession, NoTerminators, PathUnavailable, ZitiError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.disabling import is_disabled
from ziti_aio.controller.network.circuits import Circuit
from ziti_aio.controller.network.paths import path_to
from ziti_aio.wire import ctrl
from ziti_aio.wire.errors import WireProtocolError

if TYPE_CHECKING:
    from ziti_aio.controller.network.network import Network
    from ziti_aio.controller.network.routers import ConnectedRouter
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

MAX_ID_CHARS = 64


def create_circuit(network: Network, router: ConnectedRouter, msg: Message) -> Message | None:
    """:func:`_create_circuit`, counted in the controller's metrics (a multi-router set-up counts itself
    when it ends, in ``Routing``)."""
    started = time.perf_counter()
    try:
        answer, circuit = _create_circuit(network, router, msg, started)
    except ZitiError as exc:
        session = network.model.maybe(Kind.SESSIONS, _session_id(msg)) or {}
        network.circuit_failed(exc.code, exc.message, client_id=session.get("identityId", ""),
                               service_id=session.get("serviceId", ""), session_id=session.get("id", ""))
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
    session_id = ctrl.string(data, "sessionId", max_length=MAX_ID_CHARS)
    model = network.model
    session = model.maybe(Kind.SESSIONS, session_id)
    if session is None or session["type"] != "Dial":
        raise InvalidSession()
    identity = model.maybe(Kind.IDENTITIES, session["identityId"])
    service = model.maybe(Kind.SERVICES, session["serviceId"])
    if identity is None or is_disabled(identity) or service is None \
            or "Dial" not in model.policy.permissions_for(identity["id"], service["id"]):
        raise InvalidSession()
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
    circuit = Circuit(id=new_id(), service_id=service["id"], client_id=identity["id"], session_id=session_id,
                      api_session_id=session["apiSessionId"], terminator_id=terminator.id, nodes=list(path.nodes),
                      links=list(path.links), host_id=terminator.identity_id)
    network.circuits.add(circuit)
    log.info("circuit %s: %s -> %s via %s", circuit.id, identity["name"], service["name"], circuit.nodes)
    if len(path.nodes) > 1:
        network.routing.set_up(router, msg, circuit, terminator, peer, started=started)
        return None, circuit
    return ctrl.reply(msg, circuitId=circuit.id, path={"nodes": circuit.nodes, "links": []},
                      terminator={"id": terminator.id, "routerId": terminator.router_id,
                                  "address": terminator.address}), circuit


def _session_id(msg: Message) -> str | None:
    """The request's session id, if it has a readable one (for the ``failed`` event of a refused dial)."""
    try:
        return ctrl.string(ctrl.parse(msg), "sessionId", max_length=MAX_ID_CHARS)
    except (WireProtocolError, ZitiError):
        return None


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
