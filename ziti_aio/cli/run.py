"""``ziti-aio run --config node.toml``: run the roles this host's config turns on."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import trio
import typer

from ziti_aio.appliance.node import run_node
from ziti_aio.appliance.node_config import load_node_config
from ziti_aio.common.errors import ZitiError


async def _until_signalled(config: Path) -> None:
    cfg = load_node_config(config)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: run_node(cfg, task_status=task_status))
            async for signum in signals:
                print(f"stopping ({signal.Signals(signum).name})", flush=True)
                nursery.cancel_scope.cancel(reason="signal")
                break


def run(
    config: Path = typer.Option(..., "--config", "-c", help="The node's TOML file"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG"),
) -> None:
    """Run the controller, routers and tunneler that node.toml turns on."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        trio.run(_until_signalled, config)
    except ZitiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
