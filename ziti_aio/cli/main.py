"""The `ziti-aio` command line: the root typer app and its command groups."""

from __future__ import annotations

from ziti_aio.cli.help_format import Typer
from ziti_aio.cli.lazy import lazy_group
from ziti_aio.cli.version import root_options

# name -> "module:attribute" (a typer app or a command function). Each module is imported only when its
# command runs, or when --help lists them all, so `ziti-aio list ...` never loads the roles (cli/lazy.py).
COMMANDS = {
    "login": "ziti_aio.cli.login:login",
    "create": "ziti_aio.cli.create:app",
    "list": "ziti_aio.cli.list_cmd:app",
    "ls": "ziti_aio.cli.list_cmd:app",
    "update": "ziti_aio.cli.update:app",
    "delete": "ziti_aio.cli.delete:app",
    "enroll": "ziti_aio.cli.enroll:enroll",
    "pki": "ziti_aio.cli.pki:app",
    "quickstart": "ziti_aio.cli.quickstart:quickstart",
    "run": "ziti_aio.cli.run:run",
    "tunnel": "ziti_aio.cli.tunnel:app",
    "verify": "ziti_aio.cli.verify:app",
    "edge": "ziti_aio.cli.edge:app",
    "version": "ziti_aio.cli.version:version",
    "status": "ziti_aio.cli.status:status",
    "policy-advice": "ziti_aio.cli.policy_advice:policy_advice",
    "stream": "ziti_aio.cli.stream:app",
    "export": "ziti_aio.cli.export_import:export",
    "import": "ziti_aio.cli.export_import:import_network",
    "cluster": "ziti_aio.cli.cluster:app",
}
HIDDEN = {"ls"}

app = Typer(
    name="ziti-aio",
    cls=lazy_group(COMMANDS, hidden=HIDDEN),
    no_args_is_help=True,
    help="An OpenZiti-compatible zero-trust overlay network in one program.",
)
app.callback()(root_options)


def main() -> None:
    """Console-script entry point."""
    app()
