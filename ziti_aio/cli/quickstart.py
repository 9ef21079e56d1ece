"""``ziti-aio quickstart``: start a whole network here, now."""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import typer

from ziti_aio.appliance.ports import port_problems, quickstart_ports
from ziti_aio.appliance.quickstart import (
    DEFAULT_BIND_HOST,
    DEFAULT_CTRL_PORT,
    DEFAULT_ROUTER_PORT,
    QuickstartOptions,
    run_quickstart,
)
from ziti_aio.cli.progress import RichProgress
from ziti_aio.cli.signals import run_service


def quickstart(
    home: Path | None = typer.Option(None, "--home", help="Permanent home (PKI, store, password); "
                                     "default: a temporary directory removed on exit"),
    ctrl_address: str = typer.Option("", "--ctrl-address", help="Advertised controller address (default: hostname)"),
    ctrl_port: int = typer.Option(DEFAULT_CTRL_PORT, "--ctrl-port",
                                  help="Controller port: the APIs and the routers' control channel (0: any free port)"),
    router_address: str = typer.Option("", "--router-address", help="Advertised router address (default: hostname)"),
    router_port: int = typer.Option(DEFAULT_ROUTER_PORT, "--router-port",
                                    help="First router's port, for SDKs and links; each further router takes the "
                                         "next one (0: any free port)"),
    username: str = typer.Option("admin", "-u", "--username", help="Admin username"),
    password: str | None = typer.Option(None, "-p", "--password", help="Admin password (default: generated)"),
    routers: int = typer.Option(1, "--routers", help="Number of edge routers to run"),
    no_tunneler: bool = typer.Option(False, "--no-tunneler", help="Do not start the tunneler"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG"),
) -> None:
    """Start a controller, edge routers (a full mesh with 2 or more) and a tunneler hosting a demo service."""
    started_at = time.monotonic()
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    problems = port_problems(quickstart_ports(ctrl_port=ctrl_port, router_port=router_port, routers=routers),
                             DEFAULT_BIND_HOST)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(2)
    temp = None
    if home is None:
        temp = Path(tempfile.mkdtemp(prefix="ziti-aio-quickstart-"))
        home = temp
    opts = QuickstartOptions(home=home, ctrl_address=ctrl_address, ctrl_port=ctrl_port, username=username,
                             password=password, routers=routers, router_address=router_address,
                             router_port=router_port, tunneler=not no_tunneler)
    progress = RichProgress() if sys.stderr.isatty() else None
    try:
        run_service(lambda: run_quickstart(opts, started_at=started_at, progress=progress))
    finally:
        if temp is not None:
            print(f"removing temporary home {temp}")
            shutil.rmtree(temp, ignore_errors=True)
