"""The tunneler role: one identity, one mode (``proxy``, ``host`` or ``tproxy``), over the SDK only.

``await nursery.start(Tunneler(config).run)`` logs the identity in, starts the mode and
reports what it listens on (proxy ports, the DNS address); cancellation stops it and the
SDK context logs out. The node (``[tunneler]`` in node.toml) and ``ziti-aio tunnel`` both
build a :class:`TunnelerConfig` and run this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ConfigError
from ziti_aio.sdk.context import open_context
from ziti_aio.tunnel.host import HOST_CONFIG_TYPES, run_host
from ziti_aio.tunnel.proxy import ProxySpec, dial_problems, run_proxies
from ziti_aio.tunnel.tproxy import Tproxy

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

MODES = ("proxy", "host", "tproxy")
DEFAULT_SERVICE_POLL_S = 15.0
DEFAULT_DNS_RANGE = "100.64.0.1/10"
DEFAULT_RESOLVER = "udp://127.0.0.1:53"


@dataclass(frozen=True)
class TunnelerConfig:
    """What a tunneler needs: identity file, mode and the mode's options."""

    identity: Path
    mode: str = "host"
    proxy: tuple[ProxySpec, ...] = ()
    proxy_host: str = "127.0.0.1"
    dns_upstreams: tuple[str, ...] = ()
    dns_range: str = DEFAULT_DNS_RANGE
    resolver: str = DEFAULT_RESOLVER
    service_poll_s: float = DEFAULT_SERVICE_POLL_S

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"tunneler mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.mode == "proxy" and not self.proxy:
            raise ConfigError("tunneler mode proxy needs at least one SERVICE:PORT")
        if self.service_poll_s <= 0:
            raise ConfigError(f"the service poll interval must be positive, not {self.service_poll_s}")


class Tunneler:
    """Runs one :class:`TunnelerConfig`."""

    def __init__(self, config: TunnelerConfig) -> None:
        self.config = config

    async def run(self, *, task_status: trio.TaskStatus[dict[str, Any]] = trio.TASK_STATUS_IGNORED) -> None:
        """Log in and run the mode; started with a description of what is listening."""
        cfg = self.config
        config_types = HOST_CONFIG_TYPES if cfg.mode == "host" else ("intercept.v1", *HOST_CONFIG_TYPES)
        async with open_context(cfg.identity, config_types=config_types, service_poll_s=cfg.service_poll_s) as ctx:
            log.info("tunneler %s (%s mode) logged in to %s", ctx.identity_name, cfg.mode, ctx.identity.ztapi)
            async with trio.open_nursery() as nursery:
                if cfg.mode == "proxy":
                    ports = await nursery.start(lambda task_status: run_proxies(
                        ctx, list(cfg.proxy), host=cfg.proxy_host, task_status=task_status))
                    problems = await dial_problems(ctx, list(cfg.proxy))
                    task_status.started({"identity": ctx.identity_name, "mode": cfg.mode, "proxy": ports,
                                         "cannot_dial": problems})
                elif cfg.mode == "host":
                    hosting = await nursery.start(run_host, ctx)
                    task_status.started({"identity": ctx.identity_name, "mode": cfg.mode, "hosting": hosting})
                else:
                    tproxy = Tproxy(ctx, dns_range=cfg.dns_range, resolver=cfg.resolver,
                                    dns_upstreams=cfg.dns_upstreams)
                    info = await nursery.start(tproxy.run)
                    task_status.started({"identity": ctx.identity_name, "mode": cfg.mode, **info})


def describe_tunneler(info: dict[str, Any]) -> list[str]:
    """Readable lines for what a started tunneler reported (proxy ports, hosted services, DNS)."""
    lines = [f"tunneler     {info['identity']} ({info['mode']} mode)"]
    for spec, port in (info.get("proxy") or {}).items():
        service = spec.rsplit(":", 1)[0]
        lines.append(f"proxy        {service} on 127.0.0.1:{port}")
        if problem := (info.get("cannot_dial") or {}).get(service):
            lines.append(f"  warning    {problem}: connections to port {port} are closed until it can "
                         "(check the service name and a Dial service policy for this identity)")
    for name in info.get("hosting") or ():
        lines.append(f"hosting      {name}")
    for name in info.get("intercepting") or ():
        lines.append(f"intercepting {name}")
    if info.get("dns"):
        lines.append(f"dns          {info['dns']}")
    return lines
