"""Serving a Quart app over TLS with hypercorn, with the client certificate visible.

hypercorn 0.18 does not put the peer certificate into the ASGI scope. We finish the TLS
handshake ourselves in a subclass of its (private) per-connection ``TCPServer`` and keep the
DER certificate in a context variable that the connection's request tasks inherit.
If a hypercorn release changes that class, certificate login fails: ``tests/cli/test_cli_enroll.py`` and
``tests/api/test_cas_ottca.py`` authenticate with ``method=cert``.
"""

from __future__ import annotations

import contextvars
import errno
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.config import Config
from hypercorn.trio import run as hypercorn_run
from hypercorn.trio import serve
from hypercorn.trio.tcp_server import TCPServer

from ziti_aio.common.errors import first_error, listen_failed
from ziti_aio.transport.tls import TLS_HANDSHAKE_TIMEOUT_S

if TYPE_CHECKING:
    import ssl
    from collections.abc import Awaitable, Callable

PEER_CERT_DER: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("PEER_CERT_DER", default=None)


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


hypercorn_run.TCPServer = _PeerCertTCPServer  # type: ignore[attr-defined]


class _TlsConfig(Config):
    """A hypercorn config whose TLS context is built by us (:func:`ziti_aio.transport.tls.server_context`)."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        super().__init__()
        self._ssl_context = ssl_context

    def create_ssl_context(self) -> ssl.SSLContext:
        return self._ssl_context

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
