"""Settings checked before anything starts: each problem is one :class:`ConfigError` naming the flag or
the node.toml key, the value and what to do, so a bad setting never reaches a role's restart loop.

``run_quickstart`` and ``run_node`` call :func:`check_quickstart` / :func:`check_node` first, then
:func:`prepare_home` (the ``quickstart`` command also checks its flags before it makes a temporary
home); node.toml's types and unknown keys are already checked when it is read
(:mod:`ziti_aio.appliance.node_config`).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from ziti_aio.common.errors import ConfigError
from ziti_aio.router.enroll import ROUTER_FILE
from ziti_aio.tunnel.dns_server import parse_host_port
from ziti_aio.tunnel.proxy import ProxySpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.appliance.node_config import NodeConfig
    from ziti_aio.appliance.quickstart import QuickstartOptions

MAX_PORT = 65535
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_QUICKSTART_PORTS = (("--ctrl-port", "ctrl_port"), ("--router-port", "router_port"))


def is_host(value: str) -> bool:
    """Is ``value`` an IP address or a host name (dot-separated labels of letters, digits, ``-``, ``_``)?"""
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        labels = value.removesuffix(".").split(".")
        return 0 < len(value) <= 253 and all(_LABEL.fullmatch(label) for label in labels)
    return True


def check_host(what: str, value: str) -> None:
    """``value`` must be a host name or an IP address; ``what`` names the flag or key."""
    if not is_host(value):
        raise ConfigError(f"{what} {value!r} is not a host name or IP address")


def check_resolves(what: str, value: str) -> None:
    """``value`` must resolve on this host (the quickstart's own routers, tunneler and demo dial it)."""
    try:
        socket.getaddrinfo(value.strip("[]"), None)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{what} {value!r} does not resolve on this host ({reason}); "
                          "give a name or address this host can reach") from exc


def check_port(what: str, value: int) -> None:
    """``value`` must be a TCP port number, 0 meaning any free port."""
    if not 0 <= value <= MAX_PORT:
        raise ConfigError(f"{what} {value} is not a port number (0-{MAX_PORT}; 0 picks any free port)")


def check_quickstart(opts: QuickstartOptions) -> None:
    """Every quickstart flag, before the home is touched."""
    for flag, attr in _QUICKSTART_PORTS:
        check_port(flag, getattr(opts, attr))
    if opts.routers < 0:
        raise ConfigError(f"--routers {opts.routers} must be 0 or more")
    if opts.dark and opts.routers < 1:
        raise ConfigError("--dark needs at least one router: the management API is reached through one")
    if opts.dark and opts.controllers > 1:
        raise ConfigError("--dark runs one controller: a dark management plane is not yet served by a cluster")
    first = opts.router_port
    if first and first + opts.routers - 1 > MAX_PORT:
        raise ConfigError(f"--router-port {first} with --routers {opts.routers} runs past port {MAX_PORT}")
    for flag, value in (("--ctrl-address", opts.ctrl_address), ("--router-address", opts.router_address)):
        if value:
            check_host(flag, value)
            check_resolves(flag, value)
    if not opts.username.strip():
        raise ConfigError("-u/--username must not be empty")


def check_spa_dir(what: str, directory: Path) -> None:
    """An SPA's directory must exist and hold its ``index.html`` (docs/console.md)."""
    if not directory.is_dir():
        raise ConfigError(f"{what} {str(directory)!r} is not a directory")
    if not (directory / "index.html").is_file():
        raise ConfigError(f"{what} {str(directory)!r} has no index.html (the page every other path falls back to)")


def check_node(cfg: NodeConfig, source: str) -> None:
    """The values of node.toml whose types :func:`~ziti_aio.appliance.node_config.parse_node_config` checked."""
    if cfg.controller is not None:
        check_host(f"{source}: controller.address", cfg.controller.address)
        check_host(f"{source}: controller.bind", cfg.controller.bind)
        if not cfg.controller.admin_username.strip():
            raise ConfigError(f"{source}: controller.admin_username must not be empty")
        for n, site in enumerate(cfg.controller.spa):
            check_spa_dir(f"{source}: controller.spa[{n}].dir", site.dir)
    for n, router in enumerate(cfg.routers):
        key = f"{source}: router[{n}]"
        for name, value in (("edge", router.edge), ("link", router.link)):
            if value is not None:
                check_host(f"{key}.{name}", value.rpartition(":")[0])
        if router.advertise is not None:
            check_host(f"{key}.advertise", router.advertise)
        enrolled = (cfg.home / "routers" / router.name / ROUTER_FILE).exists()
        if not enrolled and (router.jwt is None or not router.jwt.is_file()):
            raise ConfigError(f"{key}.jwt " + (f"{str(router.jwt)!r} is not a file" if router.jwt else "is missing")
                              + f"; router {router.name!r} is not enrolled yet and needs its enrollment token "
                              "(ziti-aio create edge-router NAME -o NAME.jwt)")
    if cfg.tunneler is not None:
        _check_tunneler(cfg, f"{source}: tunneler")


def _check_tunneler(cfg: NodeConfig, key: str) -> None:
    t = cfg.tunneler
    assert t is not None
    if not t.identity.is_file():
        raise ConfigError(f"{key}.identity {str(t.identity)!r} is not a file; enroll the identity first "
                          "(ziti-aio enroll JWT -o FILE)")
    if t.mode == "proxy" and not t.proxy:
        raise ConfigError(f"{key}.proxy must list at least one \"SERVICE:PORT\" in proxy mode")
    for spec in t.proxy:
        _wrapped(f"{key}.proxy", functools.partial(ProxySpec.parse, spec))
    for upstream in t.dns_upstreams:
        _wrapped(f"{key}.dns_upstreams", functools.partial(parse_host_port, upstream))
    _wrapped(f"{key}.resolver", functools.partial(parse_host_port, t.resolver))
    try:
        ipaddress.ip_interface(t.dns_range)
    except ValueError as exc:
        raise ConfigError(f"{key}.dns_range {t.dns_range!r} is not a CIDR range (like 100.64.0.1/10)") from exc


def _wrapped(key: str, check: Callable[[], object]) -> None:
    try:
        check()
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc.message}") from exc


def prepare_home(what: str, path: Path) -> Path:
    """The home as an absolute path, created (0700) if missing; a file, or a place this user cannot create
    or write, is one error naming the path and what to do."""
    try:
        home = Path(path).expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"{what} {str(path)!r} is not a usable path: {exc}") from exc
    if home.exists() and not home.is_dir():
        raise ConfigError(f"{what} {home} is a file, not a directory; name a directory (it is created if missing)")
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"{what} {home}: cannot create the directory ({exc.strerror or exc}); "
                          "name a directory this user can create or write") from exc
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {home} is not writable by this user; name a directory this user can write")
    return home
