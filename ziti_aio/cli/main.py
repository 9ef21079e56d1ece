"""The `ziti-aio` command line: the root typer app and its command groups."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ziti-aio",
    no_args_is_help=True,
    add_completion=False,
    help="An OpenZiti-compatible zero-trust overlay network in one program.",
)

from ziti_aio.cli import pki as _pki  # noqa: E402
from ziti_aio.cli.quickstart import quickstart as _quickstart  # noqa: E402

app.add_typer(_pki.app, name="pki")
app.command("quickstart")(_quickstart)


def main() -> None:
    """Console-script entry point."""
    app()
