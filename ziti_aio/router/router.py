"""The edge router role: control channel to the controller, edge listener for SDKs, links to
other routers. SDKs and links share one port, told apart by ALPN (docs/ports.md), unless
``link_port`` gives links a port of their own. Without an edge listener (``edge_port=None``) it is
a transit router: it only forwards circuits between its links.

Start an enrolled router (see :mod:`ziti_aio.router.enroll`) with
``await nursery.start(EdgeRouter(RouterConfig(home=...)).run)``; it reports a :class:`RouterInfo`
once its listeners are bound and its control channel is up.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio import __version__
from ziti_aio.router.ctrls import CtrlChannels
from ziti_aio.router.edge.auth import Tokens
from ziti_aio.router.edge.binds import Binds
from ziti_aio.router.edge.dial import Dialer
from ziti_aio.router.edge.handlers import EdgeParts
from ziti_aio.router.edge.listener import EdgeListener
from ziti_aio.router.edge.sdks import SdkSessions
from ziti_aio.router.enroll import RouterHome
from ziti_aio.router.fabric.circuits import CircuitTable
from ziti_aio.router.fabric.forwarder import Forwarder
from ziti_aio.router.fabric.links import LinkManager
from ziti_aio.router.handlers import on_connected, on_message
from ziti_aio.router.handlers.parts import RouterParts
from ziti_aio.router.handlers.router_model import follow
from ziti_aio.router.metrics import report_usage
from ziti_aio.transport import alpn
from ziti_aio.transport.serve import TlsHandler, by_alpn, serve_tls
from ziti_aio.transport.tls import server_context

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlChannel
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

DEFAULT_EDGE_PORT = 3022


@dataclass(frozen=True)
class RouterConfig:
    """Settings of one router: its enrolled home, its edge listener and its link listener."""

    home: Path
    edge_bind_host: str = "0.0.0.0"
    edge_port: int | None = DEFAULT_EDGE_PORT  # None: no edge listener (a transit router)
    advertised_host: str = "localhost"
    ctrl_address: str | None = None  # overrides the enrolled one (e.g. "tls:host:1280")
    link_port: int | None = None  # a port of its own for the link listener; None: links share the edge port
    link_bind_host: str = "0.0.0.0"
    link_advertised_host: str | None = None  # default: advertised_host
    listen_links: bool = True  # False: no link listener at all (this router only dials)


@dataclass(frozen=True)
class RouterInfo:
    """What a started router tells its starter (edge fields empty for a transit router)."""

    id: str
    edge_host: str
    edge_port: int
    edge_address: str
    link_address: str = ""


class EdgeRouter:
    """Runs one edge router until cancelled; ``parts`` are its parts while it runs."""

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self.parts: RouterParts | None = None

    async def run(self, *, task_status: trio.TaskStatus[RouterInfo] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        home = await trio.to_thread.run_sync(RouterHome.load, Path(cfg.home))
        if cfg.ctrl_address is not None:
            home = replace(home, ctrl_address=cfg.ctrl_address)
        async with trio.open_nursery() as nursery:
            parts = self.parts = self._build(home, nursery)
            await nursery.start(parts.links.run, parts.forwarder.handle)
            info = await self._listen(home, parts, nursery)
            parts.links.link_address = info.link_address
            hello = {"version": f"v{__version__}", "edgeAddress": info.edge_address, "hostname": socket.gethostname(),
                     "linkAddress": info.link_address}
            await nursery.start(parts.ctrl.run, hello)
            nursery.start_soon(report_usage, parts.circuits.usage, parts.ctrl, parts.links.take_latency_samples)
            log.info("router %s: edge listener at %s, link listener at %s", home.id, info.edge_address or "-",
                     info.link_address or "-")
            task_status.started(info)

    async def _listen(self, home: RouterHome, parts: RouterParts, nursery: trio.Nursery) -> RouterInfo:
        """Start the edge and link listeners (one port, or two when ``link_port`` is set)."""
        cfg = self.config
        edge = EdgeListener(home.id, parts.tokens, parts.sdks)
        links_apart = cfg.link_port is not None
        links_here = cfg.listen_links and not links_apart
        info = RouterInfo(home.id, "", 0, "")
        if cfg.edge_port is not None:
            # libziti 0.29.3 offers no ALPN: a connection without one is an SDK's (docs/wire.md §2)
            handlers: dict[str, TlsHandler] = {alpn.EDGE: edge.serve_sdk, alpn.NONE: edge.serve_sdk}
            if links_here:
                handlers[alpn.LINK] = parts.links.accept
            host, port = await self._serve(home, nursery, handlers, cfg.edge_bind_host, cfg.edge_port, "edge")
            info = RouterInfo(home.id, host, port, f"tls://{_bracketed(cfg.advertised_host)}:{port}",
                              f"tls:{_bracketed(cfg.link_advertised_host or cfg.advertised_host)}:{port}"
                              if links_here else "")
        if links_apart and cfg.listen_links:
            assert cfg.link_port is not None
            # a link listener of its own also takes links that name no protocol
            handlers = {alpn.LINK: parts.links.accept, alpn.NONE: parts.links.accept}
            _, port = await self._serve(home, nursery, handlers, cfg.link_bind_host, cfg.link_port, "link")
            info = replace(info, link_address=f"tls:{_bracketed(cfg.link_advertised_host or cfg.advertised_host)}"
                                              f":{port}")
        return info

    @staticmethod
    async def _serve(home: RouterHome, nursery: trio.Nursery, handlers: dict[str, TlsHandler], host: str, port: int,
                     what: str) -> tuple[str, int]:
        ssl_ctx = server_context(cert_chain=str(home.server_cert), key=str(home.server_key), client_ca=str(home.ca),
                                 alpn=alpn.offered(handlers))
        name = f"{what} listener {home.id}"
        bound: tuple[str, int] = await nursery.start(
            partial(serve_tls, by_alpn(handlers, name=name), ssl_ctx, host=host, port=port, name=name))
        return bound

    def _build(self, home: RouterHome, nursery: trio.Nursery) -> RouterParts:
        """The router's parts, each given only the parts it uses."""
        ctrl = CtrlChannels(home, on_connected=self._on_ctrl_connected, on_message=self._on_ctrl_message,
                            on_new_source=self._on_new_source)
        tokens = Tokens()
        circuits = CircuitTable()
        links = LinkManager(home, ctrl)
        forwarder = Forwarder(home.id, circuits, links.links)
        binds = Binds(home.id, ctrl, tokens)
        dialer = Dialer(home.id, ctrl=ctrl, binds=binds, circuits=circuits, forwarder=forwarder, nursery=nursery)
        sdks = SdkSessions(home.id, EdgeParts(tokens, binds, dialer), nursery)
        return RouterParts(home.id, nursery, ctrl, tokens, sdks, binds, dialer, circuits, forwarder, links)

    async def _on_ctrl_connected(self, channel: CtrlChannel, fields: dict[str, Any]) -> None:
        assert self.parts is not None
        await on_connected(self.parts, channel, fields)

    async def _on_ctrl_message(self, channel: CtrlChannel, msg: Message) -> None:
        assert self.parts is not None
        await on_message(self.parts, channel, msg)

    async def _on_new_source(self, channel: CtrlChannel) -> None:
        assert self.parts is not None
        await follow(self.parts, channel)


def _bracketed(host: str) -> str:
    """``host`` as it goes into an address with a port (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host
