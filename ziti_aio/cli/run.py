"""``ziti-aio run --config node.toml``: run the roles this host's config turns on."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from ziti_aio.appliance.node import run_node
from ziti_aio.appliance.node_config import load_node_config
from ziti_aio.cli.progress import RichProgress
from ziti_aio.cli.signals import run_service


def run(
    config: Path = typer.Option(..., "--config", "-c", help="The node's TOML file"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG"),
) -> None:
    """Run the roles node.toml turns on.

    The controller, routers and tunneler of this host.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    progress = RichProgress() if sys.stderr.isatty() else None

    async def start() -> None:
        await run_node(load_node_config(config), progress=progress, source=str(config))

    run_service(start)
