"""The flags ``ziti`` puts on every command that calls the management API, and where they take effect.

``-j/--output-json`` prints the controller's JSON answer to each change (instead of the one-line summary),
``--output-request-json`` prints what is sent, ``--timeout`` bounds each request, and ``-t/--tags k=v``
(create and update only; ``--tags`` alone where ``-t`` means something else, as in ``ziti``) sets the entity's
tags. :func:`with_request_options` adds them to a command; while it runs, :func:`current` holds their values.
"""

from __future__ import annotations

import functools
import inspect
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.models import OptionInfo

from ziti_aio.sdk.management import REQUEST_TIMEOUT_S

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_TIMEOUT_S = 3600


@dataclass(frozen=True)
class RequestOptions:
    """The values of the request flags for the command that is running."""

    output_json: bool = False
    output_request_json: bool = False
    timeout_s: float = REQUEST_TIMEOUT_S
    tags: dict[str, str] | None = None


DEFAULTS = RequestOptions()
_CURRENT: ContextVar[RequestOptions | None] = ContextVar("request_options", default=None)


def current() -> RequestOptions:
    """The request flags of the running command (the defaults outside one)."""
    return _CURRENT.get() or DEFAULTS


def parse_tags(values: list[str] | None) -> dict[str, str] | None:
    """``["k=v", "a=1,b=2"]`` as a dict; ``None`` when no ``--tags`` was given."""
    if values is None:
        return None
    tags: dict[str, str] = {}
    for value in values:
        for pair in filter(None, (p.strip() for p in value.split(","))):
            key, sep, tag = pair.partition("=")
            if not sep or not key.strip():
                raise typer.BadParameter(f"expected key=value pairs, not {pair!r}", param_hint="'--tags'")
            tags[key.strip()] = tag.strip()
    return tags


def _option(names: tuple[str, ...], annotation: Any, default: Any, **info: Any) -> inspect.Parameter:
    return inspect.Parameter(names[-1].lstrip("-").replace("-", "_"), inspect.Parameter.KEYWORD_ONLY,
                             default=default, annotation=Annotated[annotation, typer.Option(*names, **info)])


def _short_names(signature: inspect.Signature) -> set[str]:
    taken: set[str] = set()
    for param in signature.parameters.values():
        for meta in getattr(param.annotation, "__metadata__", ()):
            if isinstance(meta, OptionInfo):
                taken.update(d for d in (meta.default, *(meta.param_decls or ())) if isinstance(d, str))
    return taken


def with_request_options(fn: Callable[..., Any], *, tags: bool) -> Callable[..., Any]:
    """``fn`` with the request flags (and ``--tags`` when ``tags``) added to its typer signature."""
    signature = inspect.signature(fn, eval_str=True)
    added = [
        _option(("-j", "--output-json"), bool, False, help="Print the controller's JSON answer."),
        _option(("--output-request-json",), bool, False, help="Print the JSON sent to the controller."),
        _option(("--timeout",), int, int(REQUEST_TIMEOUT_S), min=1, max=MAX_TIMEOUT_S,
                help="Seconds to wait for each request."),
    ]
    if tags:
        names = ("--tags",) if "-t" in _short_names(signature) else ("-t", "--tags")
        added.append(_option(names, list[str] | None, None, help="Tags to set: key=value (repeatable)."))

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = RequestOptions(output_json=kwargs.pop("output_json"),
                                 output_request_json=kwargs.pop("output_request_json"),
                                 timeout_s=float(kwargs.pop("timeout")),
                                 tags=parse_tags(kwargs.pop("tags", None)))
        token = _CURRENT.set(options)
        try:
            return fn(*args, **kwargs)
        finally:
            _CURRENT.reset(token)

    new_signature = signature.replace(parameters=[*signature.parameters.values(), *added])
    wrapper.__signature__ = new_signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in new_signature.parameters.values()}
    return wrapper
