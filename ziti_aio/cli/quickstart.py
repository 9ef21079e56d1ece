"""``ziti-aio quickstart``: start a whole network here, now."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import typer

from ziti_aio.appliance.background import detach as start_detached
from ziti_aio.appliance.background import exit_with_parent as die_with_parent
from ziti_aio.appliance.ci_env import remove_ci_env, write_ci_env
from ziti_aio.appliance.ports import port_problems, quickstart_ports
from ziti_aio.appliance.quickstart import (
    DEFAULT_BIND_HOST,
    DEFAULT_CTRL_PORT,
    DEFAULT_ROUTER_PORT,
    QuickstartOptions,
    run_quickstart,
)
from ziti_aio.appliance.validate import check_quickstart
from ziti_aio.cli.progress import RichProgress
from ziti_aio.cli.signals import exit_on_config_error, run_service, say
from ziti_aio.common.errors import ZitiError


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
    controllers: int = typer.Option(1, "--controllers", min=1, max=7,
                                    help="Controllers forming one cluster (ports count up from --ctrl-port)"),
    no_tunneler: bool = typer.Option(False, "--no-tunneler", help="Do not start the tunneler"),
    dark: bool = typer.Option(False, "--dark", help="Serve the Management API only over the overlay (an admin "
                                                    "identity file is written to log in with)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG"),
    ci_env: Path | None = typer.Option(
        None, "--ci-env", metavar="FILE",
        help="Once ready, write the controller URL, CA bundle, admin credentials, a client identity and the "
             "demo service to FILE as shell variables and to FILE.json (removed on exit)"),
    exit_with_parent: bool = typer.Option(
        False, "--exit-with-parent", help="Stop when the process that started this one exits (Linux)"),
    detach: bool = typer.Option(
        False, "--detach", help="Run in the background: return once ready, printing its pid"),
) -> None:
    """Start a whole network here, now.

    A controller, edge routers (a full mesh with 2 or more) and a tunneler hosting a demo service.

    \b
    Examples:
      ziti-aio quickstart
      ziti-aio quickstart --home ~/.ziti-aio -p secret --routers 2
      ziti-aio quickstart --controllers 3
    """
    started_at = time.monotonic()
    if detach:
        _detach(exit_with_parent)
        return
    if exit_with_parent:
        _reported(die_with_parent)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    opts = QuickstartOptions(home=home or Path(), ctrl_address=ctrl_address, ctrl_port=ctrl_port, username=username,
                             password=password, routers=routers, router_address=router_address,
                             router_port=router_port, tunneler=not no_tunneler, temporary_home=home is None,
                             dark=dark, controllers=controllers)
    # Before a temporary home is made for nothing: the values first, then every port clash at once.
    exit_on_config_error(lambda: check_quickstart(opts))
    problems = port_problems(quickstart_ports(ctrl_port=ctrl_port, router_port=router_port, routers=routers),
                             DEFAULT_BIND_HOST)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(2)
    temp = None
    if home is None:
        temp = Path(tempfile.mkdtemp(prefix="ziti-aio-quickstart-"))
        opts = dataclasses.replace(opts, home=temp)
    progress = RichProgress() if sys.stderr.isatty() else None
    try:
        run_service(lambda: run_quickstart(opts, started_at=started_at, progress=progress,
                                           on_ready=partial(write_ci_env, ci_env) if ci_env else None))
    finally:
        if ci_env is not None:
            remove_ci_env(ci_env)
        if temp is not None:  # also after SIGHUP/SIGTERM: run_service returns normally then
            shutil.rmtree(temp, ignore_errors=True)
            say(f"removed temporary home {temp}")


def _reported(step: Callable[[], object]) -> None:
    """Run ``step``; our error becomes one line on stderr and exit code 1."""
    try:
        step()
    except ZitiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _detach(exit_with_parent: bool) -> None:
    """``--detach``: this command again in the background (see appliance/background.py)."""
    if exit_with_parent:
        typer.echo("error: --detach and --exit-with-parent exclude each other (a detached quickstart "
                   "outlives the command that started it)", err=True)
        raise typer.Exit(2)

    def start() -> None:
        started = start_detached(sys.argv[1:])
        typer.echo(started.output.rstrip("\n"))
        typer.echo(f"running in the background as pid {started.pid} (log: {started.log}); "
                   f"stop it with: kill {started.pid}")

    _reported(start)
