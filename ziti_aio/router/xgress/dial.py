"""Connect -> circuit: ask the controller for a circuit, Dial the hosting SDK, connect both ends.

Order on the wire (wire.md §5): controller picks the terminator; router -> hoster ``Dial``
(caller id always present, the dialer's public key); hoster ``DialSuccess`` with its new conn
id; router -> hoster ``StateConnected``; router -> dialer ``StateConnected`` with the hoster's
bind key (only if the dialer sent one). Any failure answers the Connect with ``StateClosed``
and a real reason (``Invalid Session`` only for a bad service session).
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ChannelError, InvalidSession, ProtocolError
from ziti_aio.router.ctrl import CtrlRefused
from ziti_aio.router.forwarder import Route
from ziti_aio.router.xgress.circuit import LocalCircuit
from ziti_aio.router.xgress.remote import RemoteEnd
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.link import INITIATOR

if TYPE_CHECKING:
    from ziti_aio.router.dataplane import Dataplane
    from ziti_aio.router.edge.conns import EdgeBind, EdgeConn
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

DIAL_TIMEOUT_S = 10.0
CREATE_CIRCUIT_TIMEOUT_S = 25.0


class DialFailed(Exception):
    """The circuit cannot be set up; ``reason`` goes to the dialer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _create_circuit(dataplane: Dataplane, conn: EdgeConn, connect: edge.Connect, service_id: str) -> dict:
    assert dataplane.ctrl is not None
    try:
        return await dataplane.ctrl.request(
            CtrlType.CREATE_CIRCUIT, sessionId=conn.session_id, serviceId=service_id,
            apiSessionId=conn.sdk.api_session_id, identityId=conn.sdk.identity_id,
            identity=connect.terminator_identity or "", encrypted=connect.public_key is not None,
            callerId=connect.caller_id or "", publicKey=b64(connect.public_key), appData=b64(connect.app_data),
            timeout_s=CREATE_CIRCUIT_TIMEOUT_S)
    except CtrlRefused as exc:
        raise DialFailed(edge.INVALID_SESSION if exc.remote_code == InvalidSession.code else exc.message) from exc
    except ChannelError as exc:
        raise DialFailed(f"the controller is unreachable: {exc.message}") from exc


def b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


async def dial_host(bind: EdgeBind, caller_id: str, public_key: bytes | None, app_data: bytes | None,
                    circuit_id: str) -> tuple[Message, int]:
    """Send the hosting SDK a Dial; its DialSuccess and new conn id, or :class:`DialFailed`."""
    request = edge.dial(bind.conn_id, bind.token, caller_id, public_key=public_key, app_data=app_data,
                        circuit_id=circuit_id)
    try:
        answer = await bind.sdk.channel.request(request, timeout_s=DIAL_TIMEOUT_S)
    except ChannelError as exc:
        raise DialFailed(f"the hosting application did not answer: {exc.message}") from exc
    try:
        if answer.content_type == EdgeContentType.DIAL_SUCCESS:
            return answer, edge.parse_dial_success(answer).new_conn_id
        if answer.content_type == EdgeContentType.DIAL_FAILED:
            raise DialFailed(f"the hosting application refused: {edge.parse_dial_failed(answer).reason}")
    except ProtocolError as exc:
        raise DialFailed(f"the hosting application answered badly: {exc.message}") from exc
    raise DialFailed(f"the hosting application answered with content type {answer.content_type}")


async def connect_remote(dataplane: Dataplane, conn: EdgeConn, request: Message, connect: edge.Connect,
                         circuit_id: str, reply: dict) -> None:
    """The terminator is on another router, which has dialed the host: become the initiator's end."""
    link_id = reply.get("terminatorLink")
    host_key = reply.get("hostKey")
    try:
        key = base64.b64decode(host_key, validate=True) if isinstance(host_key, str) else None
    except ValueError as exc:
        raise DialFailed("the controller sent a malformed host key") from exc
    if not isinstance(link_id, str) or not link_id:
        raise DialFailed("the controller sent no path")
    if connect.public_key is not None and key is None:
        raise DialFailed("the service requires end-to-end encryption and its host sent no key")
    dataplane.forwarder.set_route(circuit_id, Route("", link_id))
    end = RemoteEnd(circuit_id, conn, INITIATOR, dataplane, peer_ready=True)
    await conn.sdk.channel.send(edge.state_connected(conn.conn_id, reply_for=request.sequence,
                                                     public_key=key if connect.public_key is not None else None,
                                                     circuit_id=circuit_id))
    end.start(ack=True)


async def dial(dataplane: Dataplane, conn: EdgeConn, request: Message, connect: edge.Connect,
               service_id: str) -> None:
    """Set up the circuit for a verified Connect; runs as its own task, cancelled by the dialer's
    StateClosed (``conn.setup``)."""
    sdk = conn.sdk
    circuit_id: str | None = None
    host: EdgeConn | None = None
    failure: str | None = None
    with trio.CancelScope() as conn.setup:
        try:
            reply = await _create_circuit(dataplane, conn, connect, service_id)
            circuit_id = str(reply["circuitId"])
            terminator = reply.get("terminator") or {}
            if terminator.get("routerId") != dataplane.router_id:
                await connect_remote(dataplane, conn, request, connect, circuit_id, reply)
                return
            bind = dataplane.binds.get(str(terminator.get("id")))
            if terminator.get("routerId") != dataplane.router_id or bind is None:
                raise DialFailed("no path to the service's terminator")
            if connect.public_key is not None and bind.public_key is None:
                raise DialFailed("the service requires end-to-end encryption and its host sent no key")
            answer, new_conn_id = await dial_host(bind, connect.caller_id or "", connect.public_key,
                                                  connect.app_data, circuit_id)
            host = bind.sdk.adopt(new_conn_id, bind)
            if host is None:
                raise DialFailed("the hosting application reused a connection id")
            circuit = LocalCircuit(circuit_id, conn, host, dataplane)
            await bind.sdk.channel.send(edge.state_connected(bind.conn_id, reply_for=answer.sequence))
            key = bind.public_key if connect.public_key is not None else None
            await sdk.channel.send(edge.state_connected(conn.conn_id, reply_for=request.sequence, public_key=key,
                                                        circuit_id=circuit_id))
            circuit.ready.set()
            return
        except DialFailed as exc:
            failure = exc.reason
        except ChannelError:
            failure = "a channel closed during the dial"
        finally:
            conn.setup = None
    await _abandon(dataplane, conn, request, circuit_id, host, failure)


async def _abandon(dataplane: Dataplane, conn: EdgeConn, request: Message, circuit_id: str | None,
                   host: EdgeConn | None, failure: str | None) -> None:
    """Undo a failed or cancelled setup; ``failure`` is ``None`` when the dialer gave up."""
    reason = failure or "the dialer closed the connection"
    log.info("dial by %s (conn %d) failed: %s", conn.sdk.name, conn.conn_id, reason)
    if conn.circuit is not None:
        await conn.circuit.close(reason, origin=conn)
    else:
        conn.sdk.forget(conn)
        if host is not None:
            host.sdk.forget(host)
            await host.sdk.send_quietly(edge.state_closed(host.conn_id, reason))
        if circuit_id is not None and dataplane.ctrl is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                await dataplane.ctrl.send(CtrlType.CIRCUIT_CLOSED, id=circuit_id, reason=reason)
    if failure is not None:
        await conn.sdk.send_quietly(edge.state_closed(conn.conn_id, failure, reply_for=request.sequence))
