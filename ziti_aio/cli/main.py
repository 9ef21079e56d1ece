"""The `ziti-aio` command line: the root typer app and its command groups."""

from __future__ import annotations

from ziti_aio.cli.help_format import Typer

app = Typer(
    name="ziti-aio",
    no_args_is_help=True,
    help="An OpenZiti-compatible zero-trust overlay network in one program.",
)

from ziti_aio.cli import create as _create  # noqa: E402
from ziti_aio.cli import delete as _delete  # noqa: E402
from ziti_aio.cli import list_cmd as _list  # noqa: E402
from ziti_aio.cli import pki as _pki  # noqa: E402
from ziti_aio.cli import tunnel as _tunnel  # noqa: E402
from ziti_aio.cli import update as _update  # noqa: E402
from ziti_aio.cli import verify as _verify  # noqa: E402
from ziti_aio.cli import version as _version  # noqa: E402
from ziti_aio.cli.edge import EdgeGroup  # noqa: E402
from ziti_aio.cli.enroll import enroll as _enroll  # noqa: E402
from ziti_aio.cli.login import login as _login  # noqa: E402
from ziti_aio.cli.quickstart import quickstart as _quickstart  # noqa: E402
from ziti_aio.cli.run import run as _run  # noqa: E402

app.callback()(_version.root_options)
app.command("login")(_login)
app.add_typer(_create.app, name="create")
app.add_typer(_list.app, name="list")
app.add_typer(_list.app, name="ls", hidden=True)
app.add_typer(_update.app, name="update")
app.add_typer(_delete.app, name="delete")
app.command("enroll")(_enroll)
app.add_typer(_pki.app, name="pki")
app.command("quickstart")(_quickstart)
app.command("run")(_run)
app.add_typer(_tunnel.app, name="tunnel")
app.add_typer(_verify.app, name="verify")
app.add_typer(Typer(cls=EdgeGroup, help="The same commands as above, for docs that say 'ziti edge ...'."),
              name="edge")
app.command("version")(_version.version)


def main() -> None:
    """Console-script entry point."""
    app()
