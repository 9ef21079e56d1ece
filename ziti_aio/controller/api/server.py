"""Serving a Quart app over TLS with hypercorn, with the client certificate visible, and other
protocols on the same port.

hypercorn 0.18 does not put the peer certificate into the ASGI scope. We finish the TLS
handshake ourselves in a subclass of its (private) per-connection ``TCPServer`` and keep the
DER certificate in a context variable that the connection's request tasks inherit.
If a hypercorn release changes that class, certificate login fails: ``tests/cli/test_cli_enroll.py`` and
``tests/api/test_cas_ottca.py`` authenticate with ``method=cert``.

The handshake is ours, so the connection is ours to hand elsewhere: a client that negotiated one of
``alpn_handlers``' protocols (the routers' control channel, docs/ports.md) goes to that handler
instead of HTTP. Every connection is a :class:`~ziti_aio.transport.tls_stream.TlsStream`.
"""

from __future__ import annotations

import contextvars
import errno
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.config import Config
from hypercorn.events import Event, RawData
from hypercorn.trio import run as hypercorn_run
from hypercorn.trio import serve
from hypercorn.trio.tcp_server import TCPServer

from ziti_aio.common.errors import ZitiError, first_error, listen_failed
from ziti_aio.transport.serve import serve_connection
from ziti_aio.transport.tls import handshake
from ziti_aio.transport.tls_stream import TlsStream

if TYPE_CHECKING:
    import ssl
    from collections.abc import Awaitable, Callable, Mapping

    from ziti_aio.transport.serve import TlsHandler

PEER_CERT_DER: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("PEER_CERT_DER", default=None)


def _fixed_length_head(data: bytes) -> bool:
    """Is ``data`` exactly the head of a response whose body has a ``content-length`` (so follows at once)?"""
    return data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n") and b"\r\ncontent-length:" in data.lower()


class _PeerCertTCPServer(TCPServer):
    # h11 hands hypercorn a response as three writes: the head, the body, an empty end of message.
    # A fixed-length response's head waits for its body (one TLS record and one socket write per
    # answer), and empty writes are dropped; streamed (chunked) responses go out as they come.
    _held = b""

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, RawData):
            if not self._held and _fixed_length_head(event.data):
                self._held = event.data
                return
            data, self._held = self._held + event.data, b""
            if data:
                await super().protocol_send(RawData(data))
            return
        if self._held:
            held, self._held = self._held, b""
            await super().protocol_send(RawData(held))
        await super().protocol_send(event)

    async def run(self) -> None:
        config = self.config
        assert isinstance(config, _TlsConfig)
        # hypercorn wrapped the socket in a trio.SSLStream that has not read or written anything yet
        stream = TlsStream(self.stream.transport_stream, config.ssl_context, server_side=True)
        self.stream = stream  # type: ignore[assignment]  # hypercorn uses only what both stream types have
        try:
            await handshake(stream)
        except ZitiError:
            await trio.aclose_forcefully(stream)
            return
        handler = config.alpn_handlers.get(stream.selected_alpn_protocol() or "")
        if handler is not None:
            await serve_connection(handler, stream, name=f"{stream.selected_alpn_protocol()} on the API port")
            return
        PEER_CERT_DER.set(stream.getpeercert(binary_form=True))
        await super().run()


hypercorn_run.TCPServer = _PeerCertTCPServer  # type: ignore[attr-defined]


class _TlsConfig(Config):
    """A hypercorn config whose TLS context is built by us (:func:`ziti_aio.transport.tls.server_context`),
    with the handlers of the other protocols served on its port."""

    def __init__(self, ssl_context: ssl.SSLContext, alpn_handlers: Mapping[str, TlsHandler]) -> None:
        super().__init__()
        self.ssl_context = ssl_context
        self.alpn_handlers = dict(alpn_handlers)

    def create_ssl_context(self) -> ssl.SSLContext:
        return self.ssl_context

    @property
    def ssl_enabled(self) -> bool:
        return True


BIND_ERRNOS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


async def serve_https(
    app: Any,
    ssl_context: ssl.SSLContext,
    *,
    host: str,
    port: int,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    alpn_handlers: Mapping[str, TlsHandler] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` over HTTPS until cancelled; ``task_status`` gets the bound URLs.

    A connection that negotiated a protocol named in ``alpn_handlers`` (which ``ssl_context`` must
    offer) goes to that handler; any other (HTTP, or no ALPN) to ``app``.
    """
    config = _TlsConfig(ssl_context, alpn_handlers or {})
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_timeout = 30
    config.graceful_timeout = 1
    config.include_server_header = False
    try:
        await serve(app, config, shutdown_trigger=shutdown_trigger, task_status=task_status)
    except BaseExceptionGroup as group:  # hypercorn binds inside its own nurseries
        bind = first_error(group, OSError)
        if isinstance(bind, OSError) and bind.errno in BIND_ERRNOS:
            raise listen_failed(host, port, bind) from group
        raise
