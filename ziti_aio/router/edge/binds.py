"""Bind and unbind: an SDK hosting a service becomes a terminator on the controller.

libziti closes a listener with StateClosed on the bind conn id (never Unbind); a StateClosed
from the router on a bind makes libziti rebind, so that is how a revoked bind is reported.
Answers to a Bind never start with ``Invalid Session`` (libziti hangs on it: docs/wire.md §7, quirk 3).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ziti_aio.common.errors import InvalidSession, ZitiError
from ziti_aio.common.ids import new_id
from ziti_aio.router.edge.session import EdgeBind
from ziti_aio.wire import edge
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.headers import Precedence

if TYPE_CHECKING:
    import trio

    from ziti_aio.router.ctrl import CtrlNotifier
    from ziti_aio.router.edge.auth import Tokens
    from ziti_aio.router.edge.session import SdkSession
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

PRECEDENCE_NAMES = {Precedence.DEFAULT: "default", Precedence.REQUIRED: "required", Precedence.FAILED: "failed"}


class Binds:
    """The binds of router ``router_id``'s SDKs, by terminator id, and their terminators."""

    def __init__(self, router_id: str, ctrl: CtrlNotifier, tokens: Tokens) -> None:
        self.router_id = router_id
        self.ctrl = ctrl
        self.tokens = tokens
        self.by_terminator: dict[str, EdgeBind] = {}

    def get(self, terminator_id: str) -> EdgeBind | None:
        return self.by_terminator.get(terminator_id)

    async def register_terminator(self, b: EdgeBind, ctrl: CtrlNotifier | None = None) -> None:
        """Create ``b``'s terminator on the controllers (or re-create it on ``ctrl``, after it (re)connected)."""
        request = b.request
        await (ctrl or self.ctrl).request(
            CtrlType.CREATE_TERMINATOR, id=b.terminator_id, sessionId=b.session_id, serviceId=b.service_id,
            identityId=b.sdk.identity_id, apiSessionId=b.sdk.api_session_id,
            identity=request.terminator_identity or "", cost=request.cost,
            precedence=PRECEDENCE_NAMES[request.precedence],
            address=f"{self.router_id}/{b.sdk.name}/{b.conn_id}")

    async def reregister(self, nursery: trio.Nursery, ctrl: CtrlNotifier) -> None:
        """After a control channel (re)connect: re-create every terminator there; unbind those refused."""
        for b in list(self.by_terminator.values()):
            try:
                await self.register_terminator(b, ctrl)
            except ZitiError as exc:
                log.warning("router %s: terminator %s not re-created: %s", self.router_id, b.terminator_id,
                            exc.message)
                nursery.start_soon(self.unbind, b, "the controller refused the bind")

    async def bind(self, sdk: SdkSession, msg: Message, request: edge.Bind) -> None:
        """Verify a Bind, register its terminator, answer StateConnected (or StateClosed with a reason)."""
        model_service = edge.model_service(request.token)
        try:
            verifier = self.tokens.verifier
            if verifier is None:
                raise InvalidSession("the router is not connected to its controller")
            if model_service is None:
                claims = verifier.session(request.token, sdk.api_session_id, "Bind")
                session_id, service_id = claims.session_id, claims.service_id
            elif self.tokens.model_allows(sdk.api_session_id, sdk.identity_id, sdk.oidc, model_service, "Bind"):
                session_id, service_id = "", model_service
            else:
                raise InvalidSession("the router model grants no Bind of this service")
        except InvalidSession as exc:
            reason = f"bind refused: {exc.message}"
            error = edge.EdgeError(reason, edge.EdgeErrorCode.INVALID_SESSION, edge.RetryHint.START_OVER)
            await sdk.send_quietly(edge.state_closed(request.conn_id, reason, reply_for=msg.sequence, error=error))
            return
        if request.conn_id in sdk.conns:
            await sdk.send_quietly(edge.state_closed(request.conn_id, "bind refused: connection id in use",
                                                     reply_for=msg.sequence))
            return
        old = sdk.binds.get(request.conn_id)
        if old is not None:
            await self.unbind(old, None)
        b = EdgeBind(sdk, request, session_id, service_id, new_id())
        try:
            await self.register_terminator(b)
        except ZitiError as exc:
            await sdk.send_quietly(edge.state_closed(request.conn_id, f"bind refused: {exc.message}",
                                                     reply_for=msg.sequence))
            return
        if not sdk.serving:
            await self._remove_terminator(b.terminator_id)
            return
        sdk.binds[request.conn_id] = b
        self.by_terminator[b.terminator_id] = b
        log.info("SDK %s bound service %s as terminator %s", sdk.name, b.service_id, b.terminator_id)
        await sdk.send_quietly(edge.state_connected(request.conn_id, reply_for=msg.sequence))

    async def unbind(self, b: EdgeBind, notify_reason: str | None) -> None:
        """Remove a bind and its terminator; with ``notify_reason`` also tell the SDK (it rebinds)."""
        if b.sdk.binds.get(b.conn_id) is b:
            del b.sdk.binds[b.conn_id]
        self.by_terminator.pop(b.terminator_id, None)
        await self._remove_terminator(b.terminator_id)
        if notify_reason is not None:
            await b.sdk.send_quietly(edge.state_closed(b.conn_id, notify_reason))

    async def _remove_terminator(self, terminator_id: str) -> None:
        await self.ctrl.notify(CtrlType.REMOVE_TERMINATOR, id=terminator_id)
