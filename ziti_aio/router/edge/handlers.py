"""What an SDK sends on its channel, by content type (:data:`HANDLERS`), and the Data relay.

Data and closes are handled inline in the channel's reader (so relaying is flow-controlled by
the receiving side); Connect and Bind, which wait for the controller or another SDK, run as
tasks in the session's nursery and die with it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ziti_aio.common.errors import AuthError, InvalidSession, ProtocolError
from ziti_aio.router.edge.session import EdgeConn, SdkSession
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import Message

if TYPE_CHECKING:
    from ziti_aio.router.edge.auth import Tokens
    from ziti_aio.router.edge.binds import Binds
    from ziti_aio.router.edge.dial import Dialer

log = logging.getLogger(__name__)

MAX_CONNS_PER_SDK = 4096


@dataclass(frozen=True)
class EdgeParts:
    """What the SDKs' messages act on: the token check, the binds and the dialer."""

    tokens: Tokens
    binds: Binds
    dialer: Dialer


async def handle_batch(parts: EdgeParts, sdk: SdkSession, msgs: list[Message]) -> None:
    """Messages of one read, in order; consecutive Data of one connection are relayed together."""
    i = 0
    while i < len(msgs):
        if msgs[i].content_type != EdgeContentType.DATA:
            await handle(parts, sdk, msgs[i])
            i += 1
            continue
        first = edge.parse_data(msgs[i])
        j = i + 1
        while j < len(msgs) and msgs[j].content_type == EdgeContentType.DATA \
                and edge.parse_data(msgs[j]).conn_id == first.conn_id:
            j += 1
        await relay_data(sdk, first.conn_id, msgs[i:j])
        i = j


async def handle(parts: EdgeParts, sdk: SdkSession, msg: Message) -> None:
    """One message other than Data (:func:`handle_batch` relays those)."""
    handler = HANDLERS.get(msg.content_type)
    if handler is None:
        raise ProtocolError(f"SDK {sdk.name} sent unsupported content type {msg.content_type}")
    await handler(parts, sdk, msg)


async def relay_data(sdk: SdkSession, conn_id: int, msgs: list[Message]) -> None:
    """Data messages (already parsed once) of connection ``conn_id``, to its circuit."""
    conn = sdk.conns.get(conn_id)
    if conn is None:
        await sdk.channel.send(edge.state_closed(conn_id, "no such connection"))
        return
    if conn.circuit is None:
        log.info("SDK %s: dropped %d Data on conn %d, not connected yet", sdk.name, len(msgs), conn_id)
        return
    await conn.circuit.forward(conn, msgs)


async def connect(parts: EdgeParts, sdk: SdkSession, msg: Message) -> None:
    """Connect: check the Dial session, then set the circuit up (``Dialer.start``: a task of the session)."""
    request = edge.parse_connect(msg)
    if request.conn_id in sdk.conns or request.conn_id in sdk.binds or len(sdk.conns) >= MAX_CONNS_PER_SDK:
        await sdk.channel.send(edge.state_closed(request.conn_id, "connection id in use or too many connections",
                                                 reply_for=msg.sequence))
        return
    service_id = edge.model_service(request.token)
    if service_id is not None:
        await _connect_by_model(parts, sdk, msg, request, service_id)
        return
    verifier = parts.tokens.verifier
    try:
        if verifier is None:
            raise InvalidSession()
        claims = verifier.session(request.token, sdk.api_session_id, "Dial")
    except InvalidSession as exc:
        reason = edge.INVALID_SESSION if exc.message == InvalidSession.default_message else exc.message
        await sdk.channel.send(edge.state_closed(request.conn_id, reason, reply_for=msg.sequence, error=edge.EdgeError(
            reason, edge.EdgeErrorCode.INVALID_SESSION, edge.RetryHint.START_OVER)))
        return
    conn = EdgeConn(sdk, request.conn_id, claims.session_id)
    sdk.conns[request.conn_id] = conn
    await parts.dialer.start(conn, msg, request, claims.service_id)


async def _connect_by_model(parts: EdgeParts, sdk: SdkSession, msg: Message, request: edge.Connect,
                            service_id: str) -> None:
    """A Connect with no service session: the router model decides (docs/router-model.md)."""
    if not parts.tokens.model_allows(sdk.api_session_id, sdk.identity_id, sdk.oidc, service_id, "Dial"):
        log.info("SDK %s: the router model does not let it dial service %s", sdk.name, service_id)
        await sdk.channel.send(edge.state_closed(request.conn_id, edge.INVALID_SESSION, reply_for=msg.sequence))
        return
    conn = EdgeConn(sdk, request.conn_id, "", service_id=service_id, grant="Dial")
    sdk.conns[request.conn_id] = conn
    await parts.dialer.start(conn, msg, request, service_id)


async def bind(parts: EdgeParts, sdk: SdkSession, msg: Message) -> None:
    assert sdk.nursery is not None
    sdk.nursery.start_soon(parts.binds.bind, sdk, msg, edge.parse_bind(msg))


async def state_closed(parts: EdgeParts, sdk: SdkSession, msg: Message) -> None:
    """The SDK closed a connection (abort its dial, or close its circuit) or a listener (unbind)."""
    conn_id = edge.parse_state_closed(msg).conn_id
    conn = sdk.conns.get(conn_id)
    if conn is not None:
        if conn.setup is not None:
            conn.setup.cancel()
        elif conn.circuit is not None:
            await conn.circuit.close("the peer closed the connection", origin=conn)
        else:
            sdk.forget(conn)
        return
    found = sdk.binds.get(conn_id)
    if found is not None:
        await parts.binds.unbind(found, None)


async def unbind(parts: EdgeParts, sdk: SdkSession, msg: Message) -> None:
    found = sdk.binds.get(edge.parse_unbind(msg).conn_id)
    if found is not None:
        await parts.binds.unbind(found, None)


async def dial_success(parts: EdgeParts, sdk: SdkSession, msg: Message) -> None:
    """A DialSuccess that came too late for its Dial: close the connection the host opened, as the answer
    the host waits for (its accept goes on at once)."""
    late = edge.parse_dial_success(msg)
    if late.new_conn_id not in sdk.conns:
        await sdk.send_quietly(edge.state_closed(late.new_conn_id, "the dial was abandoned", reply_for=msg.sequence))


async def update_token(parts: EdgeParts, sdk: SdkSession, msg: Message) -> None:
    """A refreshed OIDC access token (docs/oidc.md §5): accepted if it proves the same identity on this
    channel's certificate; the channel then belongs to the token's API session."""
    verifier = parts.tokens.verifier
    try:
        if verifier is None:
            raise AuthError("the router has not reached its controller yet")
        claims = verifier.api_session(edge.parse_update_token(msg), sdk.fingerprint)
        if claims.identity_id != sdk.identity_id:
            raise AuthError("the token is for another identity")
    except (AuthError, WireProtocolError) as exc:
        log.info("SDK %s: token update refused: %s", sdk.name, exc)
        await sdk.send_quietly(edge.update_token_reply(msg, success=False, reason=str(exc)))
        return
    sdk.api_session_id = claims.api_session_id
    await sdk.send_quietly(edge.update_token_reply(msg, success=True))


async def ignore(parts: EdgeParts, sdk: SdkSession, msg: Message) -> None:
    """A late DialFailed, or a StateConnected: nothing to do."""


EdgeHandler = Callable[[EdgeParts, SdkSession, Message], Awaitable[None]]

HANDLERS: dict[int, EdgeHandler] = {
    EdgeContentType.CONNECT: connect,
    EdgeContentType.BIND: bind,
    EdgeContentType.STATE_CLOSED: state_closed,
    EdgeContentType.UNBIND: unbind,
    EdgeContentType.DIAL_SUCCESS: dial_success,
    EdgeContentType.DIAL_FAILED: ignore,
    EdgeContentType.STATE_CONNECTED: ignore,
    EdgeContentType.UPDATE_TOKEN: update_token,
}
