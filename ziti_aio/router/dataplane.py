"""A router's live state (SDK sessions, binds by terminator id, circuits, links, routes) and what
the controller tells it over the control channel (token key, revocations, routers to link
with, routes, circuit closes)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ProtocolError, ZitiError
from ziti_aio.router.auth import TokenVerifier
from ziti_aio.router.edge.binds import register_terminator, unbind
from ziti_aio.router.forwarder import Forwarder
from ziti_aio.router.links import LinkManager, parse_peers
from ziti_aio.router.xgress.routing import handle_route
from ziti_aio.wire import ctrl
from ziti_aio.wire.ctrl import CtrlType

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlClient
    from ziti_aio.router.edge.conns import EdgeBind
    from ziti_aio.router.edge.session import SdkSession
    from ziti_aio.router.xgress.circuit import LocalCircuit
    from ziti_aio.router.xgress.remote import RemoteEnd
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

CTRL_NOTICE_TIMEOUT_S = 2.0


class Dataplane:
    """Everything one router carries; shared by its edge listener and its control channel."""

    def __init__(self, router_id: str, nursery: trio.Nursery) -> None:
        self.router_id = router_id
        self.nursery = nursery
        self.ctrl: CtrlClient | None = None
        self.verifier: TokenVerifier | None = None
        self.sessions: set[SdkSession] = set()
        self.binds: dict[str, EdgeBind] = {}
        self.circuits: dict[str, LocalCircuit | RemoteEnd] = {}
        self.forwarder = Forwarder(self)
        self.links: LinkManager | None = None

    async def remove_terminator(self, terminator_id: str) -> None:
        if self.ctrl is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(CTRL_NOTICE_TIMEOUT_S):
                await self.ctrl.send(CtrlType.REMOVE_TERMINATOR, id=terminator_id)

    # --- control channel hooks --------------------------------------------------------------

    async def on_ctrl_connected(self, fields: dict[str, Any]) -> None:
        """A (re)connected control channel: take the key and revocations, re-create terminators."""
        revoked = fields.get("revocations") or {}
        self.verifier = TokenVerifier(ctrl.string(fields, "signingKey", max_length=16384),
                                      ctrl.string(fields, "issuer", max_length=1024),
                                      ctrl.string_list(revoked, "apiSessions"), ctrl.string_list(revoked, "sessions"))
        self.nursery.start_soon(self.enforce, set(self.verifier.revoked_api_sessions),
                                set(self.verifier.revoked_sessions))
        for b in list(self.binds.values()):
            try:
                await register_terminator(self, b)
            except ZitiError as exc:
                log.warning("router %s: terminator %s not re-created: %s", self.router_id, b.terminator_id,
                            exc.message)
                self.nursery.start_soon(unbind, self, b, "the controller refused the bind")
        if self.links is not None:
            self.links.update_peers(parse_peers(fields))
            await self.links.report_all()

    async def on_ctrl_message(self, msg: Message) -> None:
        if msg.content_type == CtrlType.REVOCATIONS:
            data = ctrl.parse(msg)
            api_sessions, sessions = ctrl.string_list(data, "apiSessions"), ctrl.string_list(data, "sessions")
            if self.verifier is not None:
                self.verifier.revoke(api_sessions, sessions)
            self.nursery.start_soon(self.enforce, set(api_sessions), set(sessions))
        elif msg.content_type == CtrlType.ROUTERS:
            if self.links is not None:
                self.links.update_peers(parse_peers(ctrl.parse(msg)))
        elif msg.content_type == CtrlType.ROUTE:
            await handle_route(self, msg)
        elif msg.content_type == CtrlType.CLOSE_CIRCUIT:
            data = ctrl.parse(msg)
            circuit_id = ctrl.string(data, "id", max_length=64)
            circuit = self.circuits.get(circuit_id)
            if circuit_id not in self.forwarder.ends:
                self.forwarder.remove(circuit_id)
            if circuit is not None:
                reason = ctrl.string(data, "reason", max_length=1024, default="closed by the controller")
                self.nursery.start_soon(lambda: circuit.close(reason, notify_ctrl=False))
        else:
            raise ProtocolError(f"the controller sent unknown content type {msg.content_type}")

    async def enforce(self, api_sessions: set[str], sessions: set[str]) -> None:
        """Close whatever the revoked API sessions and sessions carry, telling the SDKs."""
        if not api_sessions and not sessions:
            return
        for sdk in list(self.sessions):
            if sdk.api_session_id in api_sessions:
                log.info("router %s: API session %s revoked, closing SDK %s", self.router_id, sdk.api_session_id,
                         sdk.name)
                self.nursery.start_soon(sdk.terminate, "the API session was revoked")
                continue
            for conn in list(sdk.conns.values()):
                if conn.session_id in sessions:
                    if conn.setup is not None:
                        conn.setup.cancel()
                    elif conn.circuit is not None:
                        self.nursery.start_soon(conn.circuit.close, "the session was revoked")
            for b in list(sdk.binds.values()):
                if b.session_id in sessions:
                    self.nursery.start_soon(unbind, self, b, "the bind session was revoked")
