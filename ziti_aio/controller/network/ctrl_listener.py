"""The controller's control-channel listener: routers connect here with their client certificate.

By default the control channel shares the API port (routers offer the ``ziti-ctrl`` protocol in
the handshake, docs/ports.md): the API server hands those connections to :meth:`CtrlListener.serve_router`.
With a port of its own, :meth:`CtrlListener.run` listens there.

A router is known by its client certificate's SHA-1 fingerprint, which must equal the
``fingerprint`` its edge-router entity got at enrollment; anything else is refused before the
hello is answered. The hello reply carries what the router needs to check tokens offline.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ChannelClosed, ProtocolError, ZitiError
from ziti_aio.controller.handlers import HANDLERS
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.network.routers import ConnectedRouter
from ziti_aio.transport import alpn
from ziti_aio.transport.channel import accept_channel
from ziti_aio.transport.serve import by_alpn, serve_tls
from ziti_aio.transport.tls import peer_fingerprint
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    import ssl

    from ziti_aio.controller.network.network import Network
    from ziti_aio.transport.tls_stream import TlsStream
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0


class CtrlListener:
    """Accepts router control channels and dispatches their messages."""

    def __init__(self, network: Network) -> None:
        self.network = network

    async def run(self, ssl_ctx: ssl.SSLContext, *, host: str, port: int,
                  task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on a port of its own (``ssl_ctx`` requires client certificates)."""
        # routers offer ziti-ctrl; a connection without ALPN is accepted too, as the only protocol here
        handlers = {alpn.CTRL: self.serve_router, alpn.NONE: self.serve_router}
        await serve_tls(by_alpn(handlers, name="ctrl listener"), ssl_ctx, host=host, port=port,
                        name="ctrl listener", task_status=task_status)

    async def serve_router(self, stream: TlsStream) -> None:
        """Serve one router's control channel on a handshaken stream; refused without a known,
        verified client certificate."""
        fingerprint = peer_fingerprint(stream)
        found = self.network.model.where(Kind.EDGE_ROUTERS, fingerprint=fingerprint) if fingerprint else []
        if not found or found[0].get("disabled"):
            raise ChannelClosed(f"no enabled edge router has certificate fingerprint {fingerprint}")
        entity = found[0]
        hello: dict[str, object] = {}

        async def check(msg: Message) -> Message:
            hello.update(ctrl.parse(msg))
            return ctrl.hello_reply(msg, **self.network.hello_reply_fields(entity))

        channel = await accept_channel(stream, check, name=f"ctrl:{entity['name']}", timeout_s=HELLO_TIMEOUT_S)
        router = ConnectedRouter(
            id=entity["id"], name=entity["name"], channel=channel,
            edge_address=ctrl.string(hello, "edgeAddress", max_length=1024, default=""),
            hostname=ctrl.string(hello, "hostname", max_length=1024, default=""),
            version=ctrl.string(hello, "version", max_length=256, default=""),
            link_address=ctrl.string(hello, "linkAddress", max_length=1024, default=""))
        self.network.connected(router)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._push, router, nursery.cancel_scope)
                await channel.run(partial(self._dispatch, router))
                nursery.cancel_scope.cancel()
        finally:
            self.network.disconnected(router)
            await channel.aclose()

    @staticmethod
    async def _push(router: ConnectedRouter, scope: trio.CancelScope) -> None:
        await router.run_pusher()
        scope.cancel()

    async def _dispatch(self, router: ConnectedRouter, msg: Message) -> None:
        handler = HANDLERS.get(msg.content_type)
        if handler is None:
            raise ProtocolError(f"router {router.name} sent unknown content type {msg.content_type}")
        try:
            answer = handler(self.network, router, msg)
        except ProtocolError:
            raise
        except ZitiError as exc:
            answer = ctrl.error_reply(msg, exc.code, exc.message)
        if answer is not None:
            await router.channel.send(answer)
