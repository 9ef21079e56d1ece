"""Commands whose modules are imported only when they are run, or listed by ``--help``.

``quickstart``, ``run`` and ``tunnel`` pull in the controller, the routers and the tunneler (quart,
hypercorn, the TLS and crypto stacks), ``login`` and ``enroll`` trio and cryptography; a client command
such as ``ziti-aio list services`` must not pay for them on every start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, ClassVar

import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

from ziti_aio.cli.help_format import ReadableCommand

if TYPE_CHECKING:
    from collections.abc import Collection

    from typer import _click


class LazyGroup(TyperGroup):
    """A typer group that also holds ``name -> "module:attribute"`` commands, loaded on first use.

    The attribute is a :class:`typer.Typer` (a command group) or a command function.
    """

    lazy: ClassVar[dict[str, str]] = {}
    hidden_names: ClassVar[frozenset[str]] = frozenset()

    def list_commands(self, ctx: _click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in self.lazy if name not in eager)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.commands[cmd_name] = self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> _click.Command:
        """Build the command as ``add_typer`` / ``command`` would have: this group's markup mode is inherited."""
        module, _, attribute = self.lazy[name].partition(":")
        target = getattr(importlib.import_module(module), attribute)
        command: _click.Command
        if isinstance(target, typer.Typer):
            command = get_group_from_info(TyperInfo(target, name=name), pretty_exceptions_short=True,
                                          suggest_commands=self.suggest_commands,
                                          rich_markup_mode=self.rich_markup_mode)
        else:
            command = get_command_from_info(CommandInfo(name=name, callback=target, cls=ReadableCommand),
                                            pretty_exceptions_short=True, rich_markup_mode=self.rich_markup_mode)
        command.hidden = name in self.hidden_names
        return command


def lazy_group(commands: dict[str, str], *, hidden: Collection[str] = ()) -> type[LazyGroup]:
    """A :class:`LazyGroup` class holding ``commands`` (``name -> "module:attribute"``), listed in that
    order; the ``hidden`` names run but are left out of ``--help`` (aliases)."""
    return type("LazyCommands", (LazyGroup,), {"lazy": dict(commands), "hidden_names": frozenset(hidden)})
