"""``ziti-aio edge …``: the top-level commands again under ``edge``, as ``ziti`` keeps ``ziti edge …``.

Most OpenZiti documentation writes ``ziti edge create identity …``; here that is ``ziti-aio edge create identity
…``, the very same command as ``ziti-aio create identity …`` (the group looks each one up at the top level).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

from ziti_aio.cli.help_format import Typer

EDGE_COMMANDS = ("login", "create", "list", "ls", "update", "delete", "verify", "enroll", "quickstart")


class EdgeGroup(TyperGroup):
    """A group whose commands are the top-level commands named in :data:`EDGE_COMMANDS`."""

    # ctx is typer's private copy of click's Context (typer._click), not exported: Any.
    def list_commands(self, ctx: Any) -> list[str]:
        root = ctx.find_root().command
        return [name for name in EDGE_COMMANDS if (cmd := root.get_command(ctx, name)) is not None and not cmd.hidden]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        root = ctx.find_root().command
        return root.get_command(ctx, cmd_name) if cmd_name in EDGE_COMMANDS and root is not self else None


app = Typer(cls=EdgeGroup, help="The commands above, for docs that say 'ziti edge ...'.")
