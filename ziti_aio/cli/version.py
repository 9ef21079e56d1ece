"""``ziti-aio version`` and ``ziti-aio --version``: the installed package's version."""

from __future__ import annotations

from typing import Annotated

import typer

from ziti_aio import __version__


def version() -> None:
    """Print the ziti-aio version."""
    typer.echo(f"ziti-aio {__version__}")


def _print_and_exit(given: bool) -> None:
    if given:
        version()
        raise typer.Exit()


def root_options(
    show_version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_and_exit,
                                               help="Print the version and exit.")] = False,
) -> None:
    """An OpenZiti-compatible zero-trust overlay network in one program."""
