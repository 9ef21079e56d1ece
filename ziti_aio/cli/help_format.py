"""Plain, readable ``--help`` for every ``ziti-aio`` command.

typer's boxed (rich) help cuts long option names to fit narrow terminals, reads ``[...]`` in help text as
markup, and names value types ``<str>``/``<path>``. Every command here is a :class:`ReadableCommand`, laid out
as click lays out help (nothing cut, text wrapped), with the metavars click users know: ``TEXT``, ``PATH``,
``INTEGER``; arguments by their upper-case name (``NAME``, ``IDS...``). Create groups with :class:`Typer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperOption
from typer.models import CommandFunctionType

TYPE_METAVARS: dict[Any, str] = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}


def option_metavar(param: TyperOption) -> str:
    """The metavar shown after an option that takes a value: its own, else one named for its type."""
    if param.metavar is not None:
        return param.metavar
    described = param.type_descriptor
    if described.is_path:
        return "PATH"
    if described.is_choice and described.choices:
        return "[" + "|".join(str(c) for c in described.choices) + "]"
    annotation: Any = described.annotation
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return TYPE_METAVARS.get(annotation, "TEXT")


def argument_metavar(param: TyperArgument) -> str:
    """``NAME``, or ``IDS...`` for an argument that takes several values."""
    name = param.metavar if param.metavar is not None else (param.name or "").upper()
    return name + ("..." if param.nargs != 1 else "")


class ReadableCommand(TyperCommand):
    """A command whose usage line and option list use :func:`option_metavar` / :func:`argument_metavar`."""

    # ctx and formatter are typer's private copies of click's classes (typer._click), not exported: Any.
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                shown = argument_metavar(param)
                pieces.append(shown if param.required else f"[{shown}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            names, text = record
            if isinstance(param, TyperArgument):
                arguments.append((argument_metavar(param), text))
            elif isinstance(param, TyperOption):
                if not param.is_flag:
                    shown_type = param.display_type_rich(ctx) or ""
                    names = names.removesuffix(" " + shown_type) + " " + option_metavar(param)
                options.append((names, text))
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class Typer(typer.Typer):
    """``typer.Typer`` with plain help (no rich markup) whose commands are :class:`ReadableCommand` s."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("rich_markup_mode", None)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None,
                **kwargs: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(name, cls=cls or ReadableCommand, **kwargs)
