"""Connect -> circuit: ask the controller for a circuit, Dial the hosting SDK, connect both ends.

Order on the wire (docs/wire.md §5): controller picks the terminator; router -> hoster ``Dial``
(caller id always present, the dialer's public key); hoster ``DialSuccess`` with its new conn
id; router -> hoster ``StateConnected``; router -> dialer ``StateConnected`` with the hoster's
bind key (only if the dialer sent one). Any failure answers the Connect with ``StateClosed``
and a real reason (``Invalid Session`` only for a bad service session).

When the terminator is on another router, the controller routes the circuit there first; that
router's :meth:`Dialer.egress` dials its hosting SDK and becomes the terminator's end, and this
router becomes the initiator's end.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ChannelError, InvalidSession, ProtocolError
from ziti_aio.router.ctrl import CtrlRefused
from ziti_aio.router.edge.local_circuit import LocalCircuit
from ziti_aio.router.edge.remote_end import RemoteEnd
from ziti_aio.router.fabric.forwarder import Route
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.link import INITIATOR, TERMINATOR

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlNotifier
    from ziti_aio.router.edge.binds import Binds
    from ziti_aio.router.edge.session import EdgeBind, EdgeConn
    from ziti_aio.router.fabric.circuits import CircuitTable
    from ziti_aio.router.fabric.forwarder import Forwarder
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

DIAL_TIMEOUT_S = 10.0
CREATE_CIRCUIT_TIMEOUT_S = 25.0


class DialRefused(Exception):
    """The circuit cannot be set up; ``reason`` goes to the dialer (not the wire's DialFailed), with the
    structured error code and retry hint current SDKs read (docs/wire.md §9)."""

    def __init__(self, reason: str, code: edge.EdgeErrorCode = edge.EdgeErrorCode.INTERNAL,
                 retry: edge.RetryHint = edge.RetryHint.DEFAULT) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retry = retry

    def edge_error(self) -> edge.EdgeError:
        return edge.EdgeError(self.reason, self.code, self.retry)


# The controller's refusal codes and what they mean to an SDK (docs/wire.md §9).
CTRL_REFUSALS = {
    InvalidSession.code: (edge.EdgeErrorCode.INVALID_SESSION, edge.RetryHint.START_OVER),
    "ENCRYPTION_DATA_MISSING": (edge.EdgeErrorCode.ENCRYPTION_DATA_MISSING, edge.RetryHint.START_OVER),
}


def terminator_failed(terminator_id: str, why: str) -> DialRefused:
    """A terminator that could not take the circuit: the SDK learns which, and may dial again (the controller
    then picks among the service's other terminators)."""
    return DialRefused(f"terminator {terminator_id} failed: {why}", edge.EdgeErrorCode.INTERNAL,
                       edge.RetryHint.DEFAULT)


def b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


async def dial_host(bind: EdgeBind, caller_id: str, public_key: bytes | None, app_data: bytes | None,
                    circuit_id: str) -> tuple[Message, int]:
    """Send the hosting SDK a Dial; its DialSuccess and new conn id, or :class:`DialRefused`."""
    request = edge.dial(bind.conn_id, bind.token, caller_id, public_key=public_key, app_data=app_data,
                        circuit_id=circuit_id)
    try:
        answer = await bind.sdk.channel.request(request, timeout_s=DIAL_TIMEOUT_S)
    except ChannelError as exc:
        raise DialRefused(f"the hosting application did not answer: {exc.message}") from exc
    try:
        if answer.content_type == EdgeContentType.DIAL_SUCCESS:
            return answer, edge.parse_dial_success(answer).new_conn_id
        if answer.content_type == EdgeContentType.DIAL_FAILED:
            raise DialRefused(f"the hosting application refused: {edge.parse_dial_failed(answer).reason}")
    except ProtocolError as exc:
        raise DialRefused(f"the hosting application answered badly: {exc.message}") from exc
    raise DialRefused(f"the hosting application answered with content type {answer.content_type}")


class Dialer:
    """Sets up the circuits of router ``router_id``: registers them in ``circuits`` and with their
    connections, routes them in ``forwarder``; circuit ends run their tasks in ``nursery``."""

    def __init__(self, router_id: str, *, ctrl: CtrlNotifier, binds: Binds, circuits: CircuitTable,
                 forwarder: Forwarder, nursery: trio.Nursery) -> None:
        self.router_id = router_id
        self.ctrl = ctrl
        self.binds = binds
        self.circuits = circuits
        self.forwarder = forwarder
        self.nursery = nursery

    def _remote_end(self, circuit_id: str, conn: EdgeConn, origin: int, *, peer_ready: bool) -> RemoteEnd:
        end = RemoteEnd(circuit_id, conn, origin, peer_ready=peer_ready, circuits=self.circuits,
                        forwarder=self.forwarder, ctrl=self.ctrl, nursery=self.nursery)
        conn.circuit = end
        self.circuits.add_linked(end)
        return end

    # --- the dialer's side (ingress) --------------------------------------------------------

    async def dial(self, conn: EdgeConn, request: Message, connect: edge.Connect, service_id: str) -> None:
        """Set up the circuit for a verified Connect; runs as its own task, cancelled by the dialer's
        StateClosed (``conn.setup``)."""
        sdk = conn.sdk
        circuit_id: str | None = None
        host: EdgeConn | None = None
        failure: DialRefused | None = None
        with trio.CancelScope() as conn.setup:
            try:
                reply = await self._create_circuit(conn, connect, service_id)
                circuit_id = str(reply["circuitId"])
                terminator = reply.get("terminator") or {}
                if terminator.get("routerId") != self.router_id:
                    await self._connect_remote(conn, request, connect, circuit_id, reply)
                    return
                bind = self.binds.get(str(terminator.get("id")))
                if bind is None:
                    raise DialRefused("no path to the service's terminator")
                if connect.public_key is not None and bind.public_key is None:
                    raise DialRefused("the service requires end-to-end encryption and its host sent no key")
                try:
                    answer, new_conn_id = await dial_host(bind, connect.caller_id or "", connect.public_key,
                                                          connect.app_data, circuit_id)
                except DialRefused as exc:
                    raise terminator_failed(bind.terminator_id, exc.reason) from exc
                host = bind.sdk.adopt(new_conn_id, bind)
                if host is None:
                    raise DialRefused("the hosting application reused a connection id")
                circuit = LocalCircuit(circuit_id, conn, host, circuits=self.circuits, ctrl=self.ctrl)
                conn.circuit = host.circuit = circuit
                self.circuits.add(circuit)
                await bind.sdk.channel.send(edge.state_connected(bind.conn_id, reply_for=answer.sequence))
                key = bind.public_key if connect.public_key is not None else None
                await sdk.channel.send(edge.state_connected(conn.conn_id, reply_for=request.sequence,
                                                            public_key=key, circuit_id=circuit_id))
                circuit.ready.set()
                return
            except DialRefused as exc:
                failure = exc
            except ChannelError:
                failure = DialRefused("a channel closed during the dial")
            finally:
                conn.setup = None
        await self._abandon(conn, request, circuit_id, host, failure)

    async def _create_circuit(self, conn: EdgeConn, connect: edge.Connect, service_id: str) -> dict[str, Any]:
        try:
            return await self.ctrl.request(
                CtrlType.CREATE_CIRCUIT, sessionId=conn.session_id, serviceId=service_id,
                apiSessionId=conn.sdk.api_session_id, identityId=conn.sdk.identity_id,
                identity=connect.terminator_identity or "", encrypted=connect.public_key is not None,
                callerId=connect.caller_id or "", publicKey=b64(connect.public_key), appData=b64(connect.app_data),
                timeout_s=CREATE_CIRCUIT_TIMEOUT_S)
        except CtrlRefused as exc:
            code, retry = CTRL_REFUSALS.get(exc.remote_code, (edge.EdgeErrorCode.INTERNAL, edge.RetryHint.DEFAULT))
            raise DialRefused(edge.INVALID_SESSION if exc.remote_code == InvalidSession.code else exc.message,
                              code, retry) from exc
        except ChannelError as exc:
            raise DialRefused(f"the controller is unreachable: {exc.message}") from exc

    async def _connect_remote(self, conn: EdgeConn, request: Message, connect: edge.Connect, circuit_id: str,
                              reply: dict[str, Any]) -> None:
        """The terminator is on another router, which has dialed the host: become the initiator's end."""
        link_id = reply.get("terminatorLink")
        host_key = reply.get("hostKey")
        try:
            key = base64.b64decode(host_key, validate=True) if isinstance(host_key, str) else None
        except ValueError as exc:
            raise DialRefused("the controller sent a malformed host key") from exc
        if not isinstance(link_id, str) or not link_id:
            raise DialRefused("the controller sent no path")
        if connect.public_key is not None and key is None:
            raise DialRefused("the service requires end-to-end encryption and its host sent no key")
        self.forwarder.set_route(circuit_id, Route("", link_id))
        end = self._remote_end(circuit_id, conn, INITIATOR, peer_ready=True)
        await conn.sdk.channel.send(edge.state_connected(conn.conn_id, reply_for=request.sequence,
                                                         public_key=key if connect.public_key is not None else None,
                                                         circuit_id=circuit_id))
        end.start(ack=True)

    async def _abandon(self, conn: EdgeConn, request: Message, circuit_id: str | None, host: EdgeConn | None,
                       failure: DialRefused | None) -> None:
        """Undo a failed or cancelled setup; ``failure`` is ``None`` when the dialer gave up."""
        reason = failure.reason if failure is not None else "the dialer closed the connection"
        log.info("dial by %s (conn %d) failed: %s", conn.sdk.name, conn.conn_id, reason)
        if conn.circuit is not None:
            await conn.circuit.close(reason, origin=conn)
        else:
            conn.sdk.forget(conn)
            if host is not None:
                host.sdk.forget(host)
                await host.sdk.send_quietly(edge.state_closed(host.conn_id, reason))
            if circuit_id is not None:
                await self.ctrl.notify(CtrlType.CIRCUIT_CLOSED, id=circuit_id, reason=reason)
        if failure is not None:
            await conn.sdk.send_quietly(edge.state_closed(conn.conn_id, failure.reason, reply_for=request.sequence,
                                                          error=failure.edge_error()))

    # --- the host's side (egress) -----------------------------------------------------------

    async def egress(self, circuit_id: str, route: Route, terminator_id: str, caller_id: str,
                     public_key: bytes | None, app_data: bytes | None) -> bytes | None:
        """The controller routes circuit ``circuit_id`` to a terminator here: Dial its hosting SDK and
        become the terminator's end; the host's key (if the dialer sent one), or :class:`DialRefused`."""
        bind = self.binds.get(terminator_id)
        if bind is None:
            raise DialRefused(f"terminator {terminator_id} is not on this router")
        if circuit_id in self.circuits:
            raise DialRefused(f"circuit {circuit_id} exists already")
        if public_key is not None and bind.public_key is None:
            raise DialRefused("the service requires end-to-end encryption and its host sent no key")
        try:
            answer, new_conn_id = await dial_host(bind, caller_id, public_key, app_data, circuit_id)
        except DialRefused as exc:
            raise terminator_failed(terminator_id, exc.reason) from exc
        host = bind.sdk.adopt(new_conn_id, bind)
        if host is None:
            raise DialRefused("the hosting application reused a connection id")
        self.forwarder.set_route(circuit_id, route)
        self._remote_end(circuit_id, host, TERMINATOR, peer_ready=False).start()
        await bind.sdk.send_quietly(edge.state_connected(bind.conn_id, reply_for=answer.sequence))
        return bind.public_key if public_key is not None else None
