"""Connect -> circuit: ask the controller for a circuit, Dial the hosting SDK, connect both ends.

Order on the wire (docs/wire.md §5): controller picks the terminator; router -> hoster ``Dial``
(caller id always present, the dialer's public key); hoster ``DialSuccess`` with its new conn
id; router -> dialer ``StateConnected`` with the hoster's bind key (only if the dialer sent one);
router -> hoster ``StateConnected``. Any failure answers the Connect with ``StateClosed``
and a real reason (``Invalid Session`` only for a bad service session). When the service's only
terminator is bound here, the ``Dial`` goes out while the controller decides (:class:`EarlyDial`,
docs/router.md "A dial's round trips").

When the terminator is on another router, the controller routes the circuit there first; that
router's :meth:`Dialer.egress` dials its hosting SDK and becomes the terminator's end, and this
router becomes the initiator's end.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ChannelClosed, ChannelError, InvalidSession, ProtocolError
from ziti_aio.common.ids import new_id
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
    from ziti_aio.transport.channel import PendingReply
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


def host_dial(bind: EdgeBind, caller_id: str, public_key: bytes | None, app_data: bytes | None,
              circuit_id: str) -> Message:
    """The Dial for ``bind``'s hosting SDK: the dialer's name, key and AppData, the circuit's id."""
    return edge.dial(bind.conn_id, bind.token, caller_id, public_key=public_key, app_data=app_data,
                     circuit_id=circuit_id)


def host_answer(answer: Message) -> int:
    """The new conn id of a hosting SDK's DialSuccess, or :class:`DialRefused`."""
    try:
        if answer.content_type == EdgeContentType.DIAL_SUCCESS:
            return edge.parse_dial_success(answer).new_conn_id
        if answer.content_type == EdgeContentType.DIAL_FAILED:
            raise DialRefused(f"the hosting application refused: {edge.parse_dial_failed(answer).reason}")
    except ProtocolError as exc:
        raise DialRefused(f"the hosting application answered badly: {exc.message}") from exc
    raise DialRefused(f"the hosting application answered with content type {answer.content_type}")


async def dial_host(bind: EdgeBind, caller_id: str, public_key: bytes | None, app_data: bytes | None,
                    circuit_id: str) -> tuple[Message, int]:
    """Send the hosting SDK a Dial; its DialSuccess and new conn id, or :class:`DialRefused`."""
    request = host_dial(bind, caller_id, public_key, app_data, circuit_id)
    try:
        answer = await bind.sdk.channel.request(request, timeout_s=DIAL_TIMEOUT_S)
    except ChannelError as exc:
        raise DialRefused(f"the hosting application did not answer: {exc.message}") from exc
    return answer, host_answer(answer)


class EarlyDial:
    """The Dial sent to the host of the terminator the controller named as the service's only one last time,
    before the controller decides this circuit (docs/router.md, "A dial's round trips"): the host's answer
    then arrives about when the controller's does, instead of one round trip after it."""

    def __init__(self, bind: EdgeBind, connect: edge.Connect, circuit_id: str) -> None:
        self.bind = bind
        self.circuit_id = circuit_id
        self.request = host_dial(bind, connect.caller_id or "", connect.public_key, connect.app_data, circuit_id)
        self.pending: PendingReply | None = None
        self.answer: Message | None = None
        self.host: EdgeConn | None = None

    async def send(self) -> None:
        """Write the Dial; a channel that closed is reported by :meth:`accepted`."""
        with contextlib.suppress(ChannelError):
            self.pending = await self.bind.sdk.channel.send_request(self.request)

    def matches(self, reply: dict[str, Any], router_id: str) -> bool:
        """Did the controller pick this terminator, here, under this circuit id?"""
        terminator = reply.get("terminator") or {}
        return reply.get("circuitId") == self.circuit_id and terminator.get("id") == self.bind.terminator_id \
            and terminator.get("routerId") == router_id

    async def accepted(self) -> tuple[Message, EdgeConn]:
        """The host's DialSuccess and its connection (registered); else :class:`DialRefused`."""
        pending = self.pending
        try:
            if pending is None:
                raise ChannelClosed("the channel closed")
            # ``pending`` stays for :meth:`drop` until the answer is taken: a dial cancelled here must still
            # close a DialSuccess already in.
            answer = self.answer = await self.bind.sdk.channel.wait_reply(self.request, pending,
                                                                          timeout_s=DIAL_TIMEOUT_S)
            self.pending = None
            new_conn_id = host_answer(answer)
        except ChannelError as exc:
            raise terminator_failed(self.bind.terminator_id,
                                    f"the hosting application did not answer: {exc.message}") from exc
        except DialRefused as exc:
            raise terminator_failed(self.bind.terminator_id, exc.reason) from exc
        self.host = self.bind.sdk.adopt(new_conn_id, self.bind)
        if self.host is None:
            raise DialRefused("the hosting application reused a connection id")
        return answer, self.host

    async def drop(self, reason: str) -> None:
        """Withdraw the Dial unless it became part of a circuit. An answer not in yet is no longer expected
        (``handlers.dial_success`` closes a late DialSuccess); a DialSuccess in, or the connection it opened,
        is answered with StateClosed, ReplyFor its sequence, which releases the host's accept at once."""
        sdk, pending, host = self.bind.sdk, self.pending, self.host
        self.pending = self.host = None
        if host is not None:
            if host.circuit is None and sdk.conns.get(host.conn_id) is host and self.answer is not None:
                sdk.forget(host)
                await sdk.send_quietly(edge.state_closed(host.conn_id, reason, reply_for=self.answer.sequence))
            return
        if pending is None:
            return
        sdk.channel.forget_reply(self.request)
        answer = pending.message
        if answer is not None and answer.content_type == EdgeContentType.DIAL_SUCCESS:
            with contextlib.suppress(ProtocolError):
                new_conn_id = edge.parse_dial_success(answer).new_conn_id
                if new_conn_id not in sdk.conns:
                    await sdk.send_quietly(edge.state_closed(new_conn_id, reason, reply_for=answer.sequence))


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
        self._sole_terminator: dict[str, str] = {}
        """Service id -> its only terminator, on this router, as the controller's last circuit for it said."""

    def _remote_end(self, circuit_id: str, conn: EdgeConn, origin: int, *, peer_ready: bool) -> RemoteEnd:
        end = RemoteEnd(circuit_id, conn, origin, peer_ready=peer_ready, circuits=self.circuits,
                        forwarder=self.forwarder, ctrl=self.ctrl, nursery=self.nursery)
        conn.circuit = end
        self.circuits.add_linked(end)
        return end

    # --- the dialer's side (ingress) --------------------------------------------------------

    async def start(self, conn: EdgeConn, request: Message, connect: edge.Connect, service_id: str) -> None:
        """In the dialer's channel reader, for a verified Connect: write the early Dial if there is one (no
        task stands between the Connect and it), then set the circuit up in a task of the session."""
        early = self._early_dial(service_id, connect)
        if early is not None:
            await early.send()
        assert conn.sdk.nursery is not None
        conn.sdk.nursery.start_soon(self.dial, conn, request, connect, service_id, early)

    async def dial(self, conn: EdgeConn, request: Message, connect: edge.Connect, service_id: str,
                   early: EarlyDial | None = None) -> None:
        """Set up the circuit for a verified Connect; runs as its own task, cancelled by the dialer's
        StateClosed (``conn.setup``). With ``early``, its host was sent the Dial already."""
        sdk = conn.sdk
        circuit_id: str | None = None
        host: EdgeConn | None = None
        failure: DialRefused | None = None
        with trio.CancelScope() as conn.setup:
            try:
                reply = await self._create_circuit(conn, connect, service_id,
                                                   circuit_id=None if early is None else early.circuit_id)
                circuit_id = str(reply["circuitId"])
                terminator = reply.get("terminator") or {}
                self._remember_terminator(service_id, reply)
                if early is not None and early.matches(reply, self.router_id):
                    answer, host = await early.accepted()
                    bind = early.bind
                else:
                    if early is not None:
                        await early.drop("the controller picked another terminator")
                    if terminator.get("routerId") != self.router_id:
                        await self._connect_remote(conn, request, connect, circuit_id, reply)
                        return
                    bind, answer, host = await self._dial_local(connect, str(terminator.get("id")), circuit_id)
                circuit = LocalCircuit(circuit_id, conn, host, circuits=self.circuits, ctrl=self.ctrl)
                conn.circuit = host.circuit = circuit
                self.circuits.add(circuit)
                # The dialer first: it is the one waiting (the host's StateConnected only lets it send its
                # stream header); nothing reaches either end before ``ready`` is set, after both.
                key = bind.public_key if connect.public_key is not None else None
                await sdk.channel.send(edge.state_connected(conn.conn_id, reply_for=request.sequence,
                                                            public_key=key, circuit_id=circuit_id))
                await bind.sdk.channel.send(edge.state_connected(bind.conn_id, reply_for=answer.sequence))
                circuit.ready.set()
                return
            except DialRefused as exc:
                failure = exc
            except ChannelError:
                failure = DialRefused("a channel closed during the dial")
            finally:
                conn.setup = None
        if early is not None:
            await early.drop(failure.reason if failure is not None else "the dialer closed the connection")
        await self._abandon(conn, request, circuit_id, host, failure)

    async def _dial_local(self, connect: edge.Connect, terminator_id: str,
                          circuit_id: str) -> tuple[EdgeBind, Message, EdgeConn]:
        """Dial the hosting SDK of terminator ``terminator_id`` on this router: its bind, DialSuccess and conn."""
        bind = self.binds.get(terminator_id)
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
        return bind, answer, host

    def _early_dial(self, service_id: str, connect: edge.Connect) -> EarlyDial | None:
        """An :class:`EarlyDial` if the service's only terminator (as last seen) is bound here and fits."""
        terminator_id = self._sole_terminator.get(service_id)
        bind = None if terminator_id is None else self.binds.get(terminator_id)
        if bind is None or connect.terminator_identity or (connect.public_key is not None and bind.public_key is None):
            return None
        return EarlyDial(bind, connect, new_id())

    def _remember_terminator(self, service_id: str, reply: dict[str, Any]) -> None:
        terminator = reply.get("terminator") or {}
        if reply.get("soleTerminator") is True and terminator.get("routerId") == self.router_id:
            self._sole_terminator[service_id] = str(terminator.get("id"))
        else:
            self._sole_terminator.pop(service_id, None)

    async def _create_circuit(self, conn: EdgeConn, connect: edge.Connect, service_id: str, *,
                              circuit_id: str | None = None) -> dict[str, Any]:
        try:
            return await self.ctrl.request(
                CtrlType.CREATE_CIRCUIT, sessionId=conn.session_id, serviceId=service_id,
                apiSessionId=conn.sdk.api_session_id, identityId=conn.sdk.identity_id,
                identity=connect.terminator_identity or "", encrypted=connect.public_key is not None,
                callerId=connect.caller_id or "", publicKey=b64(connect.public_key), appData=b64(connect.app_data),
                timeout_s=CREATE_CIRCUIT_TIMEOUT_S, **({"circuitId": circuit_id} if circuit_id else {}))
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
