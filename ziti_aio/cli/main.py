"""The `ziti-aio` command line: the root typer app and its command groups."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ziti-aio",
    no_args_is_help=True,
    add_completion=False,
    help="An OpenZiti-compatible zero-trust overlay network in one program.",
)


def main() -> None:
    """Console-script entry point."""
    app()
