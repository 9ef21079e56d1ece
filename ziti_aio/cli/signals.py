"""Running a long-lived command until SIGINT, SIGTERM or SIGHUP, even while it is still starting."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio
import typer

from ziti_aio.common.errors import ConfigError, ZitiError, first_error

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Each stops a command cleanly; SIGHUP is what closing its terminal sends."""
CONFIG_ERROR_EXIT = 2
"""Exit code for a configuration error (as for a usage error); 1 for every other failure."""
T = TypeVar("T")


async def run_until_signalled(start: Callable[..., Awaitable[None]]) -> None:
    """Run ``start()``; the first of :data:`STOP_SIGNALS` cancels it, whatever it is doing.

    An error ``start`` raises comes out as itself, not wrapped in an exception group; from a
    group (roles start in nurseries), our own error inside it comes out.
    """
    failure: list[BaseException] = []
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for signum in signals:
                    say(f"stopping ({signal.Signals(signum).name})")
                    nursery.cancel_scope.cancel(reason="signal")
                    return

            nursery.start_soon(watch)
            try:
                await start()
            except Exception as exc:
                failure.append(first_error(exc, ZitiError) or exc)
                nursery.cancel_scope.cancel(reason="failed")
    if failure:
        raise failure[0]


def say(line: str) -> None:
    """Print ``line`` if stdout still takes it (after SIGHUP the terminal may be gone)."""
    with contextlib.suppress(OSError):
        print(line, flush=True)


def exit_on_config_error(check: Callable[[], T]) -> T:
    """``check()``'s result; a :class:`ConfigError` becomes its one line and exit code 2."""
    try:
        return check()
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(CONFIG_ERROR_EXIT) from None


def run_service(start: Callable[[], Awaitable[None]]) -> None:
    """Run a long-lived command until signalled; our errors become one line, exit code 2 for a
    configuration error and 1 for any other."""
    try:
        trio.run(run_until_signalled, start)
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(CONFIG_ERROR_EXIT) from None
    except ZitiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
