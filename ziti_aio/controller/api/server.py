"""Serving a Quart app over TLS with hypercorn, with the client certificate visible.

hypercorn 0.18 does not put the peer certificate into the ASGI scope. We finish the TLS
handshake ourselves in a subclass of its (private) per-connection ``TCPServer`` and keep the
DER certificate in a context variable that the connection's request tasks inherit.
hypercorn is pinned; ``tests/unit/controller/test_api_server.py`` fails if this stops working.
"""

from __future__ import annotations

import contextvars
import errno
import ssl
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.config import Config
from hypercorn.trio import run as hypercorn_run
from hypercorn.trio import serve
from hypercorn.trio.tcp_server import TCPServer

from ziti_aio.common.errors import first_error, listen_failed

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

PEER_CERT_DER: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("PEER_CERT_DER", default=None)
TLS_HANDSHAKE_TIMEOUT_S = 15.0


class _PeerCertTCPServer(TCPServer):
    async def run(self) -> None:
        if isinstance(self.stream, trio.SSLStream):
            try:
                with trio.fail_after(TLS_HANDSHAKE_TIMEOUT_S):
                    await self.stream.do_handshake()
            except (trio.BrokenResourceError, trio.TooSlowError):
                await trio.aclose_forcefully(self.stream)
                return
            PEER_CERT_DER.set(self.stream.getpeercert(binary_form=True))
        await super().run()


hypercorn_run.TCPServer = _PeerCertTCPServer  # type: ignore[misc]


class _TlsConfig(Config):
    """A hypercorn config whose TLS context is built by us (TLS 1.2+, optional client certs)."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        super().__init__()
        self._ssl_context = ssl_context

    def create_ssl_context(self) -> ssl.SSLContext:
        return self._ssl_context

    @property
    def ssl_enabled(self) -> bool:
        return True


def server_ssl_context(*, cert_chain: str, key: str, client_ca: str | None) -> ssl.SSLContext:
    """TLS 1.2+ server context; client certs requested (not required) when ``client_ca`` is given.

    libziti 0.29.3 negotiates TLS 1.2 only, so 1.2 stays enabled.
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=cert_chain, keyfile=key)
    if client_ca is not None:
        ctx.load_verify_locations(cafile=client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


BIND_ERRNOS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


async def serve_tls(
    app: Any,
    ssl_context: ssl.SSLContext,
    *,
    host: str,
    port: int,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` over HTTPS until cancelled; ``task_status`` gets the bound URLs."""
    config = _TlsConfig(ssl_context)
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
