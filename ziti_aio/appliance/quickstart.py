"""``ziti-aio quickstart``: a whole network on one machine, created on first run, reused after.

The home holds the PKI, the store, the generated admin password and the enrolled identity
files, so a restart with the same ``--home`` brings back the same network. Unless
``--no-tunneler``, a host-mode tunneler serves the demo service (:mod:`demo`). The roles it
runs are written to ``<home>/node.toml``. Roles talk to each other only over their real TLS
sockets, never by Python calls.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

import trio

from ziti_aio.appliance.ci_env import ReadyNetwork
from ziti_aio.appliance.demo import SERVICE, DemoFiles, enrolled, prepare_demo, run_echo_server, try_it
from ziti_aio.appliance.network_setup import RouterPlan, admin_login, local_admin_login, prepare_routers
from ziti_aio.appliance.node_config import (
    ControllerSection,
    NodeConfig,
    RouterSection,
    TunnelerSection,
    render_node_config,
)
from ziti_aio.appliance.ports import free_port
from ziti_aio.appliance.progress import (
    NoProgress,
    StartupProgress,
    controller_step,
    failure_shown,
    print_flushed,
)
from ziti_aio.appliance.supervisor import supervise
from ziti_aio.appliance.validate import check_quickstart, prepare_home
from ziti_aio.common import api_paths
from ziti_aio.common.errors import ConfigError, ZitiError
from ziti_aio.controller.cluster.member import ClusterSettings
from ziti_aio.controller.controller import STORE_FILE, Controller, ControllerConfig, ControllerInfo
from ziti_aio.controller.dark import ADMIN_ATTRIBUTE
from ziti_aio.controller.pki_home import ensure_controller_pki, share_cluster_pki
from ziti_aio.router.router import EdgeRouter, RouterConfig, RouterInfo
from ziti_aio.tunnel.tunneler import Tunneler, TunnelerConfig

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

log = logging.getLogger(__name__)

PASSWORD_FILE = "admin-password"
ADMIN_IDENTITY = "quickstart-admin"
ADMIN_IDENTITY_FILE = "admin.json"
"""The admin's identity file of a dark quickstart (``ziti-aio login --network-identity``)."""
NODE_FILE = "node.toml"
DEFAULT_CTRL_PORT = 1280
DEFAULT_ROUTER_PORT = 3022
DEFAULT_BIND_HOST = "0.0.0.0"
LEADER_WAIT_S = 60.0


@dataclass(frozen=True)
class QuickstartOptions:
    """The quickstart's command-line settings. Two ports: the controller's (APIs and the routers'
    control channel) and the first router's (SDKs and links), docs/ports.md."""

    home: Path
    ctrl_address: str = ""
    ctrl_port: int = DEFAULT_CTRL_PORT
    bind_host: str = DEFAULT_BIND_HOST
    username: str = "admin"
    password: str | None = None
    routers: int = 1
    router_address: str = ""
    router_port: int = DEFAULT_ROUTER_PORT
    tunneler: bool = True
    trust_domain: str = "ziti-aio"
    temporary_home: bool = False
    dark: bool = False
    """The management API only over the overlay (docs/operations.md); the admin gets an identity file."""
    controllers: int = 1
    """More than one: that many controllers forming one Raft cluster in this process (docs/ha.md)."""

    @property
    def advertised(self) -> str:
        return self.ctrl_address or socket.gethostname()

    @property
    def router_advertised(self) -> str:
        return self.router_address or self.advertised

    def router_plans(self, home: Path) -> list[RouterPlan]:
        """``router-instance-1`` … with ports counting up from ``router_port``; 0 stays 0 (any free port)."""
        return [
            RouterPlan(f"router-instance-{n}", home / "routers" / f"router-instance-{n}",
                       self.router_port + n - 1 if self.router_port else 0)
            for n in range(1, self.routers + 1)
        ]


def admin_password(home: Path, given: str | None, *, option: str = "-p/--password") -> tuple[str, bool]:
    """The admin password: kept in the home since its first start, else given, else generated.

    The home keeps the password the admin was created with (file created 0600), so later starts log in
    with it; ``given`` differing from it is a :class:`ConfigError` naming ``option`` and that file.
    Returns the password and whether it was generated now.
    """
    path = home / PASSWORD_FILE
    if path.exists():
        kept = path.read_text().strip()
        if given and given != kept:
            raise ConfigError(
                f"{option}: the home {home} keeps the admin password set on its first start (in {path}); "
                f"leave out {option} to use it, or start a new network in another home")
        return kept, False
    if given and (home / "controller").exists():  # a home from before homes kept a given password
        return given, False
    password = given or secrets.token_urlsafe(12)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password, not given


def node_config(opts: QuickstartOptions, home: Path, info: ControllerInfo, plans: list[RouterPlan],
                routers: list[RouterInfo], demo: DemoFiles | None) -> NodeConfig:
    """The roles this quickstart runs, as ``ziti-aio run --config`` would read them (ports as bound)."""
    controller = ControllerSection(address=opts.advertised, port=info.port, bind=opts.bind_host,
                                   admin_username=opts.username, management="overlay" if opts.dark else "tcp")
    sections = tuple(
        RouterSection(name=plan.name, edge=f"{opts.bind_host}:{router.edge_port}", advertise=opts.router_advertised)
        for plan, router in zip(plans, routers, strict=True))
    tunneler = TunnelerSection(identity=demo.tunneler) if demo else None
    return NodeConfig(home=home, controller=controller, routers=sections, tunneler=tunneler)


def summary(opts: QuickstartOptions, info: ControllerInfo, password: str, generated: bool,
            routers: list[RouterInfo], demo: DemoFiles | None) -> list[str]:
    """The lines printed once everything serves."""
    host_port = f"{opts.advertised}:{info.port}"
    login = (f"ziti-aio login --network-identity {opts.home / ADMIN_IDENTITY_FILE}" if opts.dark else
             f"ziti-aio login {host_port} -u {opts.username} -p '{password}' -y")
    apis = (f"Edge Client API; the Management API is dark: service {api_paths.MANAGEMENT_SERVICE}" if opts.dark
            else "Edge Client and Management APIs")
    lines = [
        "ziti-aio quickstart",
        f"  controller   {info.url}  ({apis})",
        *([] if opts.dark else [f"  console      {info.url}/console/  (web console: log in as the admin below)"]),
        *([f"  cluster      {opts.controllers} controllers, one leader (ziti-aio cluster list)"]
          if opts.controllers > 1 else []),
        f"  home         {opts.home}" + ("  (temporary: removed on exit)" if opts.temporary_home else ""),
        f"  admin        {opts.username} / {password}" + (
            "  (generated)" if generated and opts.temporary_home else
            f"  (generated; kept in {opts.home / PASSWORD_FILE})" if generated else ""),
        f"  log in with  {login}",
    ]
    for n, router in enumerate(routers, start=1):
        lines.append(f"  router       router-instance-{n} at {router.edge_address}")
    if demo is not None:
        lines.append("  tunneler     quickstart-tunneler (host mode) hosting demo-echo, a loopback echo server")
        lines += try_it(demo)
    lines.append(f"  node.toml    {opts.home / NODE_FILE}  (the roles running here)")
    return lines


def _member_name(n: int, count: int) -> str:
    return "controller" if count == 1 else f"controller ctrl-{n}"


def controller_configs(opts: QuickstartOptions, home: Path, password: str,
                       names: tuple[str, ...]) -> list[ControllerConfig]:
    """One controller in ``home/controller``; or ``ctrl-1`` there and ``ctrl-N`` in ``home/controller-N``,
    members of one cluster on ports counting up from ``--ctrl-port`` (any free ones for 0), sharing the
    first one's CAs and token key (docs/ha.md)."""
    single = ControllerConfig(home=home / "controller", advertised_address=opts.advertised, port=opts.ctrl_port,
                              bind_host=opts.bind_host, trust_domain=opts.trust_domain, admin_username=opts.username,
                              admin_password=password, extra_names=names,
                             management="overlay" if opts.dark else "tcp")
    if opts.controllers == 1:
        return [single]
    homes = [home / "controller"] + [home / f"controller-{n}" for n in range(2, opts.controllers + 1)]
    # every controller has a Raft log (a cluster of one, docs/ha.md): a cluster's home has its other members'
    if (homes[0] / STORE_FILE).exists() and not homes[1].exists():
        raise ConfigError(f"{home} holds a single controller's data; a cluster of controllers needs a new --home")
    ports = [opts.ctrl_port + n if opts.ctrl_port else free_port(opts.bind_host) for n in range(opts.controllers)]
    ids = [f"ctrl-{n}" for n in range(1, opts.controllers + 1)]
    host = f"[{opts.advertised}]" if ":" in opts.advertised else opts.advertised
    first_pki = homes[0] / "pki"
    ensure_controller_pki(first_pki, names=[opts.advertised, *names], trust_domain=opts.trust_domain,
                          member_id=ids[0])
    for member_home in homes[1:]:
        if not (member_home / "pki").exists():
            share_cluster_pki(first_pki, member_home / "pki")
    return [replace(single, home=member_home, port=port, cluster=ClusterSettings(ident, tuple(
                (other, f"{host}:{p}") for other, p in zip(ids, ports, strict=True) if other != ident)))
            for member_home, port, ident in zip(homes, ports, ids, strict=True)]


async def _leader(infos: list[ControllerInfo], username: str, password: str) -> ControllerInfo:
    """The controller that takes the admin's login first (the leader, or a follower forwarding to it)."""
    with trio.fail_after(LEADER_WAIT_S):
        while True:
            for info in infos:
                try:
                    admin = await admin_login(info.url, info.ca_bundle_path, username, password)
                except ZitiError:
                    continue
                await admin.aclose()
                return info
            await trio.sleep(0.2)


async def run_quickstart(
    opts: QuickstartOptions,
    *,
    out: Callable[[str], None] = print_flushed,
    started_at: float | None = None,
    progress: StartupProgress | None = None,
    on_ready: Callable[[ReadyNetwork], None] | None = None,
    task_status: trio.TaskStatus[ControllerInfo] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Create what is missing in the home, start every role, print the summary, run until cancelled.

    ``on_ready`` is called (in a worker thread) once every role serves, before the summary.
    """
    started_at = started_at if started_at is not None else time.monotonic()
    await trio.to_thread.run_sync(check_quickstart, opts)
    progress = progress or NoProgress()
    with failure_shown(progress):
        await _start_roles(opts, out, started_at, progress, on_ready, task_status)


async def _start_roles(opts: QuickstartOptions, out: Callable[[str], None], started_at: float,
                       progress: StartupProgress, on_ready: Callable[[ReadyNetwork], None] | None,
                       task_status: trio.TaskStatus[ControllerInfo]) -> None:
    home = await trio.to_thread.run_sync(prepare_home, "--home", opts.home)
    first_run = not (home / "controller").exists()
    password, generated = await trio.to_thread.run_sync(admin_password, home, opts.password)
    names = tuple(n for n in {"localhost", socket.gethostname(), opts.advertised} if n)
    configs = await trio.to_thread.run_sync(partial(controller_configs, opts, home, password, names))
    async with trio.open_nursery() as nursery:
        progress.step(controller_step(first_run))
        controllers = [Controller(config) for config in configs]
        infos = [await nursery.start(supervise, _member_name(n, len(configs)), controller.run)
                 for n, controller in enumerate(controllers, start=1)]
        info = infos[0] if len(infos) == 1 else await _leader(infos, opts.username, password)
        plans = opts.router_plans(home)
        demo = None
        if plans:
            try:
                admin = (await local_admin_login(controllers[0].app, info.url, opts.username, password) if opts.dark
                         else await admin_login(info.url, info.ca_bundle_path, opts.username, password))
            except ZitiError as exc:
                kept = home / PASSWORD_FILE
                raise ZitiError(f"{exc.message}; the admin's password is the one it got on the home's first start"
                                + (f" (kept in {kept})" if kept.exists() else "")) from exc
            try:
                router_names = list(dict.fromkeys(["127.0.0.1", "localhost", opts.router_advertised, *names]))
                progress.step(f"enrolling {len(plans)} edge router{'s' if len(plans) > 1 else ''}" if first_run
                              else "checking the edge routers")
                await prepare_routers(admin, plans, names=router_names)
                if opts.dark:
                    await enrolled(admin, ADMIN_IDENTITY, ADMIN_ATTRIBUTE, home / ADMIN_IDENTITY_FILE, is_admin=True)
                if opts.tunneler:
                    progress.step("preparing the demo service and its identities")
                    demo = await prepare_demo(admin, home, await nursery.start(run_echo_server))
            finally:
                await admin.aclose()
        routers = []
        for plan in plans:
            progress.step(f"starting {plan.name}")
            router = EdgeRouter(RouterConfig(home=plan.home, edge_bind_host=opts.bind_host, edge_port=plan.edge_port,
                                             advertised_host=opts.router_advertised, ctrl_address=info.ctrl_address))
            routers.append(await nursery.start(supervise, plan.name, router.run))
        if demo is not None:
            progress.step("starting the tunneler")
            tunneler = Tunneler(TunnelerConfig(identity=demo.tunneler, mode="host"))
            await nursery.start(supervise, "tunneler", tunneler.run)
        node = render_node_config(node_config(opts, home, info, plans, routers, demo),
                                  comment="Written by ziti-aio quickstart: the roles it runs (informational).")
        await trio.to_thread.run_sync((home / NODE_FILE).write_text, node)
        progress.done()
        if on_ready is not None:
            ready = ReadyNetwork(url=info.url, ca_bundle=info.ca_bundle_path, username=opts.username,
                                 password=password, home=home, routers=tuple(r.edge_address for r in routers),
                                 client_identity=demo.client if demo else None,
                                 demo_service=SERVICE if demo else None)
            await trio.to_thread.run_sync(on_ready, ready)
        for line in summary(opts, info, password, generated, routers, demo):
            out(line)
        out(f"ready in {time.monotonic() - started_at:.2f} s")
        task_status.started(info)
