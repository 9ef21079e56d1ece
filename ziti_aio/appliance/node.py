"""``ziti-aio run --config node.toml``: the roles a host's node.toml turns on, supervised."""

from __future__ import annotations

import functools
import logging
import socket
import time
from typing import TYPE_CHECKING

import trio

from ziti_aio.appliance.progress import (
    NoProgress,
    StartupProgress,
    controller_step,
    failure_shown,
    print_flushed,
)
from ziti_aio.appliance.quickstart import admin_password
from ziti_aio.appliance.supervisor import supervise
from ziti_aio.appliance.validate import check_node, prepare_home
from ziti_aio.common.errors import ConfigError
from ziti_aio.controller.controller import Controller, ControllerConfig
from ziti_aio.router.enroll import ROUTER_FILE, enroll_router
from ziti_aio.router.router import DEFAULT_EDGE_PORT, EdgeRouter, RouterConfig
from ziti_aio.tunnel.proxy import ProxySpec
from ziti_aio.tunnel.tunneler import Tunneler, TunnelerConfig, describe_tunneler

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ziti_aio.appliance.node_config import NodeConfig, RouterSection, TunnelerSection

log = logging.getLogger(__name__)


def _split(address: str | None, default_port: int) -> tuple[str, int]:
    if address is None:
        return "0.0.0.0", default_port
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def tunneler_config(section: TunnelerSection) -> TunnelerConfig:
    """The tunneler role's settings from the node's [tunneler] table (checked by :func:`check_node`)."""
    return TunnelerConfig(identity=section.identity, mode=section.mode,
                          proxy=tuple(ProxySpec.parse(p) for p in section.proxy),
                          dns_upstreams=section.dns_upstreams, dns_range=section.dns_range, resolver=section.resolver)


def router_config(section: RouterSection, home: Path) -> RouterConfig:
    """A [[router]] table's settings; without ``edge`` the router is transit-only (links, no SDKs)."""
    host, port = _split(section.edge, DEFAULT_EDGE_PORT)
    link_host, link_port = _split(section.link, 0) if section.link else (host, None)
    return RouterConfig(home=home, edge_bind_host=host, edge_port=port if section.edge else None,
                        advertised_host=section.advertise or _reachable(host), link_port=link_port,
                        link_bind_host=link_host, link_advertised_host=section.advertise or _reachable(link_host))


def _reachable(bind_host: str) -> str:
    """What to advertise for a bind address: a wildcard bind is reached at this host's name."""
    return socket.gethostname() if bind_host in ("", "0.0.0.0", "::") else bind_host


def router_home(cfg: NodeConfig, section: RouterSection) -> Path:
    return cfg.home / "routers" / section.name


async def ensure_router_enrolled(cfg: NodeConfig, section: RouterSection) -> Path:
    """Enroll a router with its JWT on first start; later starts reuse its home."""
    home = router_home(cfg, section)
    if (home / ROUTER_FILE).exists():
        return home
    if section.jwt is None:
        raise ConfigError(f"router {section.name!r} is not enrolled yet and has no jwt to enroll with")
    try:
        jwt = (await trio.to_thread.run_sync(section.jwt.read_text)).strip()
    except OSError as exc:
        raise ConfigError(f"router {section.name!r}: cannot read {section.jwt}: {exc.strerror or exc}") from exc
    host, _ = _split(section.edge or section.link, DEFAULT_EDGE_PORT)
    names = [n for n in dict.fromkeys([section.advertise, host, "localhost", "127.0.0.1"]) if n and n != "0.0.0.0"]
    await enroll_router(jwt, home, names=names)
    log.info("router %s enrolled into %s", section.name, home)
    return home


async def run_node(
    cfg: NodeConfig,
    *,
    out: Callable[[str], None] = print_flushed,
    progress: StartupProgress | None = None,
    source: str = "node.toml",
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Check ``cfg`` (read from ``source``) and its home, then start every configured role under the
    supervisor; runs until cancelled. ``progress`` is told each start-up step (and is done before each
    role's line goes to ``out``)."""
    await trio.to_thread.run_sync(check_node, cfg, source)
    await trio.to_thread.run_sync(prepare_home, f"{source}: home", cfg.home)
    progress = progress or NoProgress()
    with failure_shown(progress):
        await _start_roles(cfg, out, progress, task_status)


async def _start_roles(cfg: NodeConfig, out: Callable[[str], None], progress: StartupProgress,
                       task_status: trio.TaskStatus[None]) -> None:
    started_at = time.monotonic()
    async with trio.open_nursery() as nursery:
        if cfg.controller is not None:
            ctrl = cfg.controller
            first_run = not (cfg.home / "controller").exists()
            progress.step(controller_step(first_run))
            password, _ = await trio.to_thread.run_sync(functools.partial(
                admin_password, cfg.home, ctrl.admin_password, option="controller.admin_password"))
            controller = Controller(ControllerConfig(
                home=cfg.home / "controller", advertised_address=ctrl.address, port=ctrl.port,
                ctrl_port=ctrl.ctrl_port, bind_host=ctrl.bind, admin_username=ctrl.admin_username,
                admin_password=password, events=ctrl.events, management=ctrl.management,
                management_service=ctrl.management_service, console=ctrl.console, spa=ctrl.spa, cluster=ctrl.cluster,
            ))
            info = await nursery.start(supervise, "controller", controller.run)
            progress.done()
            out(f"controller   {info.url} (control channel {info.ctrl_address})")
            if ctrl.console and ctrl.management != "overlay":
                out(f"console      {info.url}/console/")
        for section in cfg.routers:
            enrolled = (router_home(cfg, section) / ROUTER_FILE).exists()
            progress.step(f"starting router {section.name}" if enrolled else f"enrolling router {section.name}")
            home = await ensure_router_enrolled(cfg, section)
            router = EdgeRouter(router_config(section, home))
            rinfo = await nursery.start(supervise, f"router {section.name}", router.run)
            progress.done()
            if rinfo.edge_address:
                out(f"router       {section.name} at {rinfo.edge_address}")
            else:
                out(f"router       {section.name} (transit) links at {rinfo.link_address or 'dial only'}")
        if cfg.tunneler is not None:
            progress.step("starting the tunneler")
            tunneler = Tunneler(tunneler_config(cfg.tunneler))
            tinfo = await nursery.start(supervise, "tunneler", tunneler.run)
            progress.done()
            for line in describe_tunneler(tinfo):
                out(line)
        out(f"ready in {time.monotonic() - started_at:.2f} s")
        task_status.started()
