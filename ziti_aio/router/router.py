"""The edge router role: control channel to the controller, edge listener for SDKs, links to
other routers (a link listener when ``link_port`` is set). Without an edge listener
(``edge_port=None``) it is a transit router: it only forwards circuits between its links.

Start an enrolled router (see :mod:`ziti_aio.router.enroll`) with
``await nursery.start(EdgeRouter(RouterConfig(home=...)).run)``; it reports a :class:`RouterInfo`
once its listeners are bound and its control channel is up.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import trio

from ziti_aio import __version__
from ziti_aio.router.ctrl import CtrlClient
from ziti_aio.router.dataplane import Dataplane
from ziti_aio.router.edge.listener import EdgeListener
from ziti_aio.router.enroll import RouterHome
from ziti_aio.router.links import LinkManager
from ziti_aio.transport.tls import server_context

log = logging.getLogger(__name__)

DEFAULT_EDGE_PORT = 3022


@dataclass(frozen=True)
class RouterConfig:
    """Settings of one router: its enrolled home, its edge listener and its link listener."""

    home: Path
    edge_bind_host: str = "0.0.0.0"
    edge_port: int | None = DEFAULT_EDGE_PORT  # None: no edge listener (a transit router)
    advertised_host: str = "localhost"
    ctrl_address: str | None = None  # overrides the enrolled one (e.g. "tls:host:6262")
    link_port: int | None = None  # None: no link listener (this router only dials)
    link_bind_host: str = "0.0.0.0"
    link_advertised_host: str | None = None  # default: advertised_host


@dataclass(frozen=True)
class RouterInfo:
    """What a started router tells its starter (edge fields empty for a transit router)."""

    id: str
    edge_host: str
    edge_port: int
    edge_address: str
    link_address: str = ""


class EdgeRouter:
    """Runs one edge router until cancelled."""

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self.dataplane: Dataplane | None = None

    async def run(self, *, task_status: trio.TaskStatus[RouterInfo] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        home = await trio.to_thread.run_sync(RouterHome.load, Path(cfg.home))
        if cfg.ctrl_address is not None:
            home = replace(home, ctrl_address=cfg.ctrl_address)
        async with trio.open_nursery() as nursery:
            dataplane = self.dataplane = Dataplane(home.id, nursery)
            listen = None if cfg.link_port is None else (cfg.link_bind_host, cfg.link_port)
            dataplane.links = LinkManager(home, dataplane, listen=listen,
                                          advertised_host=cfg.link_advertised_host or cfg.advertised_host)
            link_address = await nursery.start(dataplane.links.run)
            info = RouterInfo(home.id, "", 0, "", link_address)
            if cfg.edge_port is not None:
                edge_ssl = server_context(cert_chain=str(home.server_cert), key=str(home.server_key),
                                          client_ca=str(home.ca))
                listener = EdgeListener(dataplane, edge_ssl, host=cfg.edge_bind_host, port=cfg.edge_port)
                host, port = await nursery.start(listener.run)
                advertised = f"[{cfg.advertised_host}]" if ":" in cfg.advertised_host else cfg.advertised_host
                info = RouterInfo(home.id, host, port, f"tls://{advertised}:{port}", link_address)
            client = CtrlClient(home, hello_fields={"version": f"v{__version__}", "edgeAddress": info.edge_address,
                                                    "hostname": socket.gethostname(), "linkAddress": link_address},
                                on_connected=dataplane.on_ctrl_connected, on_message=dataplane.on_ctrl_message)
            dataplane.ctrl = client
            await nursery.start(client.run)
            log.info("router %s: edge listener at %s, link listener at %s", home.id, info.edge_address or "-",
                     link_address or "-")
            task_status.started(info)
