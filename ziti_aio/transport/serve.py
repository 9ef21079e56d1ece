"""A TLS listener: accept TCP, finish the handshake under a deadline, hand the stream over.

Every connection runs in its own task; whatever goes wrong in one (a non-TLS client, a wrong
certificate, a handler error) is logged and closes that connection only. One listener can serve
several protocols on its port, chosen by the protocol negotiated in the handshake (:func:`by_alpn`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ZitiError, listen_failed
from ziti_aio.transport.alpn import pick
from ziti_aio.transport.tls import TLS_HANDSHAKE_TIMEOUT_S, handshake
from ziti_aio.transport.tls_stream import TlsStream

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

TlsHandler = Callable[[TlsStream], Awaitable[None]]


async def serve_connection(handler: TlsHandler, stream: TlsStream, *, name: str) -> None:
    """Run ``handler`` on one connection; log what goes wrong, and close the connection in any case."""
    try:
        await handler(stream)
    except ZitiError as exc:
        log.info("%s: connection closed: %s", name, exc.message)
    except Exception:
        log.exception("%s: connection handler failed", name)
    finally:
        await trio.aclose_forcefully(stream)


def by_alpn(handlers: Mapping[str, TlsHandler], *, name: str) -> TlsHandler:
    """One handler that passes each connection to ``handlers[negotiated ALPN protocol]`` (key
    :data:`~ziti_aio.transport.alpn.NONE` for none); a connection nobody handles is closed."""

    async def dispatch(stream: TlsStream) -> None:
        await pick(handlers, stream.selected_alpn_protocol(), name=name)(stream)

    return dispatch


async def serve_tls(handler: TlsHandler, ssl_ctx: ssl.SSLContext, *, host: str, port: int, name: str,
                    handshake_timeout_s: float = TLS_HANDSHAKE_TIMEOUT_S,
                    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until cancelled; ``task_status`` gets the bound ``(host, port)``. A port that cannot be
    bound is a :class:`ConfigError` naming it."""
    try:
        listeners = await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise listen_failed(host, port, exc) from exc
    bound = listeners[0].socket.getsockname()

    async def one(tcp: trio.SocketStream) -> None:
        stream = TlsStream(tcp, ssl_ctx, server_side=True)

        async def handshaken(stream: TlsStream) -> None:
            await handshake(stream, handshake_timeout_s)
            await handler(stream)

        await serve_connection(handshaken, stream, name=name)

    task_status.started((bound[0], bound[1]))
    await trio.serve_listeners(one, listeners)
