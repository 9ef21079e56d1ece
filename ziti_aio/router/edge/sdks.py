"""The SDK sessions connected to a router: serving each until its channel closes, closing what
it had, and closing what the controller's revocations take away."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ziti_aio.router.edge.handlers import handle_batch

if TYPE_CHECKING:
    from ziti_aio.router.edge.handlers import EdgeParts
    from ziti_aio.router.edge.session import SdkSession

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0


class SdkSessions:
    """The SDK sessions of router ``router_id``; revocations are enforced in ``nursery``."""

    def __init__(self, router_id: str, parts: EdgeParts, nursery: trio.Nursery) -> None:
        self.router_id = router_id
        self.parts = parts
        self.nursery = nursery
        self.open: set[SdkSession] = set()

    async def serve(self, sdk: SdkSession) -> None:
        """Serve the channel until it closes, then close every circuit and bind it had."""
        self.open.add(sdk)
        try:
            async with trio.open_nursery() as nursery:
                sdk.nursery = nursery
                await sdk.channel.run(batch_handler=lambda msgs: handle_batch(self.parts, sdk, msgs))
                nursery.cancel_scope.cancel()
        finally:
            self.open.discard(sdk)
            sdk.serving = False
            with trio.CancelScope(shield=True), trio.move_on_after(SHUTDOWN_TIMEOUT_S):
                await self.shutdown(sdk, "the SDK's channel closed", notify_sdk=False)

    async def shutdown(self, sdk: SdkSession, reason: str, *, notify_sdk: bool) -> None:
        """Close every connection (StateClosed to both ends, or only the far end) and every bind."""
        for conn in list(sdk.conns.values()):
            if conn.setup is not None:
                conn.setup.cancel()
            elif conn.circuit is not None:
                await conn.circuit.close(reason, origin=None if notify_sdk else conn)
        for b in list(sdk.binds.values()):
            await self.parts.binds.unbind(b, reason if notify_sdk else None)

    async def terminate(self, sdk: SdkSession, reason: str) -> None:
        """Revoked: tell the SDK about every connection, then close its channel."""
        await self.shutdown(sdk, reason, notify_sdk=True)
        await sdk.channel.aclose()

    async def enforce_model(self, identity_ids: set[str]) -> None:
        """The router model changed for ``identity_ids``: close their connections and binds it authorized
        and no longer allows (docs/router-model.md)."""
        if not identity_ids:
            return
        tokens = self.parts.tokens
        for sdk in list(self.open):
            if sdk.identity_id not in identity_ids:
                continue
            for conn in list(sdk.conns.values()):
                if conn.grant and not tokens.model_allows(sdk.api_session_id, sdk.identity_id, sdk.oidc,
                                                          conn.service_id, conn.grant):
                    log.info("router %s: SDK %s lost %s access to service %s", self.router_id, sdk.name,
                             conn.grant, conn.service_id)
                    if conn.setup is not None:
                        conn.setup.cancel()
                    elif conn.circuit is not None:
                        self.nursery.start_soon(conn.circuit.close, "access to the service was removed")
            for b in list(sdk.binds.values()):
                if not b.session_id and not tokens.model_allows(sdk.api_session_id, sdk.identity_id, sdk.oidc,
                                                                b.service_id, "Bind"):
                    self.nursery.start_soon(self.parts.binds.unbind, b, "access to the service was removed")

    async def enforce(self, api_sessions: set[str], sessions: set[str]) -> None:
        """Close whatever the revoked API sessions and sessions carry, telling the SDKs."""
        if not api_sessions and not sessions:
            return
        for sdk in list(self.open):
            if sdk.api_session_id in api_sessions:
                log.info("router %s: API session %s revoked, closing SDK %s", self.router_id, sdk.api_session_id,
                         sdk.name)
                self.nursery.start_soon(self.terminate, sdk, "the API session was revoked")
                continue
            for conn in list(sdk.conns.values()):
                if conn.session_id in sessions:
                    if conn.setup is not None:
                        conn.setup.cancel()
                    elif conn.circuit is not None:
                        self.nursery.start_soon(conn.circuit.close, "the session was revoked")
            for b in list(sdk.binds.values()):
                if b.session_id in sessions:
                    self.nursery.start_soon(self.parts.binds.unbind, b, "the bind session was revoked")
