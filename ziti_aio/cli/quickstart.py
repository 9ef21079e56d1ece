"""``ziti-aio quickstart``: start a whole network here, now."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import typer

from ziti_aio.appliance.quickstart import (
    DEFAULT_CTRL_CHANNEL_PORT,
    DEFAULT_CTRL_PORT,
    DEFAULT_LINK_PORT,
    DEFAULT_ROUTER_PORT,
    QuickstartOptions,
    run_quickstart,
)
from ziti_aio.appliance.validate import check_quickstart
from ziti_aio.cli.progress import RichProgress
from ziti_aio.cli.signals import exit_on_config_error, run_service, say


def quickstart(
    home: Path | None = typer.Option(None, "--home", help="Permanent home (PKI, store, password); "
                                     "default: a temporary directory removed on exit"),
    ctrl_address: str = typer.Option("", "--ctrl-address", help="Advertised controller address (default: hostname)"),
    ctrl_port: int = typer.Option(DEFAULT_CTRL_PORT, "--ctrl-port", help="Controller API port (0: any free port)"),
    ctrl_channel_port: int | None = typer.Option(
        None, "--ctrl-channel-port",
        help=f"Router control channel port (default {DEFAULT_CTRL_CHANNEL_PORT}; any free port with --ctrl-port 0)"),
    router_address: str = typer.Option("", "--router-address", help="Advertised router address (default: hostname)"),
    router_port: int = typer.Option(DEFAULT_ROUTER_PORT, "--router-port", help="First router edge port"),
    link_port: int | None = typer.Option(
        None, "--link-port",
        help=f"First router link port, with --routers 2 or more (default {DEFAULT_LINK_PORT}; "
             "any free port with --router-port 0)"),
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
    if ctrl_channel_port is None:
        ctrl_channel_port = DEFAULT_CTRL_CHANNEL_PORT if ctrl_port else 0
    if link_port is None:
        link_port = DEFAULT_LINK_PORT if router_port else 0
    opts = QuickstartOptions(home=home or Path(), ctrl_address=ctrl_address, ctrl_port=ctrl_port, link_port=link_port,
                             ctrl_channel_port=ctrl_channel_port, username=username,
                             password=password, routers=routers, router_address=router_address,
                             router_port=router_port, tunneler=not no_tunneler, temporary_home=home is None)
    exit_on_config_error(lambda: check_quickstart(opts))  # before a temporary home is made for nothing
    temp = None
    if home is None:
        temp = Path(tempfile.mkdtemp(prefix="ziti-aio-quickstart-"))
        opts = dataclasses.replace(opts, home=temp)
    progress = RichProgress() if sys.stderr.isatty() else None
    try:
        run_service(lambda: run_quickstart(opts, started_at=started_at, progress=progress))
    finally:
        if temp is not None:  # also after SIGHUP/SIGTERM: run_service returns normally then
            shutil.rmtree(temp, ignore_errors=True)
            say(f"removed temporary home {temp}")
