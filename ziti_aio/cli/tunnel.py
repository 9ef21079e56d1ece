"""``ziti-aio tunnel proxy|host|tproxy``: run a tunneler for one identity, as ``ziti tunnel`` does."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import trio
import typer

from ziti_aio.cli.help_format import Typer
from ziti_aio.cli.signals import run_service
from ziti_aio.common.errors import ZitiError
from ziti_aio.tunnel.proxy import ProxySpec
from ziti_aio.tunnel.tunneler import (
    DEFAULT_DNS_RANGE,
    DEFAULT_RESOLVER,
    DEFAULT_SERVICE_POLL_S,
    Tunneler,
    TunnelerConfig,
    describe_tunneler,
)

app = Typer(no_args_is_help=True, help="Run a tunneler: proxy ports, host services, or intercept.")

Identity = Annotated[Path, typer.Option("-i", "--identity", help="Identity file (JSON)")]
DnsUpstream = Annotated[list[str] | None, typer.Option(
    "--dns-upstream", help="Upstream DNS server host[:port] for names not intercepted (repeatable; failover order)")]
DnsRange = Annotated[str, typer.Option("-d", "--dnsSvcIpRange", help="CIDR to hand out intercepted hostnames from")]
Resolver = Annotated[str, typer.Option("-r", "--resolver", help="Address of the DNS server to run")]
PollRate = Annotated[float, typer.Option("--svcPollRate", help="Seconds between service list checks")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG")]


def _run(config: TunnelerConfig, verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # httpx logs every request at INFO: a line per service poll, for ever
        logging.getLogger("httpx").setLevel(logging.WARNING)

    async def start() -> None:
        try:
            async with trio.open_nursery() as nursery:
                info = await nursery.start(Tunneler(config).run)
                for line in describe_tunneler(info):
                    print(line, flush=True)
                print("ready", flush=True)
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    run_service(start)


def _config(**kwargs: Any) -> TunnelerConfig:
    try:
        return TunnelerConfig(**kwargs)
    except ZitiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


@app.command("proxy")
def proxy(
    services: Annotated[list[str], typer.Argument(help="SERVICE:PORT pairs: listen on 127.0.0.1:PORT for SERVICE")],
    identity: Identity,
    poll: PollRate = DEFAULT_SERVICE_POLL_S,
    verbose: Verbose = False,
) -> None:
    """Proxy local TCP ports to services.

    Each connection to a port is carried over its service.
    """
    try:
        specs = tuple(ProxySpec.parse(s) for s in services)
    except ZitiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    _run(_config(identity=identity, mode="proxy", proxy=specs, service_poll_s=poll), verbose)


@app.command("host")
def host(identity: Identity, poll: PollRate = DEFAULT_SERVICE_POLL_S, verbose: Verbose = False) -> None:
    """Host services.

    Every service this identity may Bind that has a host.v1/host.v2 config.
    """
    _run(_config(identity=identity, mode="host", service_poll_s=poll), verbose)


@app.command("tproxy")
def tproxy(
    identity: Identity,
    dns_upstream: DnsUpstream = None,
    dns_range: DnsRange = DEFAULT_DNS_RANGE,
    resolver: Resolver = DEFAULT_RESOLVER,
    poll: PollRate = DEFAULT_SERVICE_POLL_S,
    verbose: Verbose = False,
) -> None:
    """Intercept and host services (Linux, root).

    Intercepts intercept.v1 addresses (TPROXY rules and DNS) and hosts host.v1/v2 services.
    """
    _run(_config(identity=identity, mode="tproxy", dns_upstreams=tuple(dns_upstream or ()), dns_range=dns_range,
                 resolver=resolver, service_poll_s=poll), verbose)
