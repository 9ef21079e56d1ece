"""Running a long-lived command until SIGINT or SIGTERM, even while it is still starting."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import trio
import typer

from ziti_aio.common.errors import ZitiError, first_error


async def run_until_signalled(start: Callable[..., Awaitable[None]]) -> None:
    """Run ``start()``; the first SIGINT/SIGTERM cancels it, whatever it is doing.

    An error ``start`` raises comes out as itself, not wrapped in an exception group; from a
    group (roles start in nurseries), our own error inside it comes out.
    """
    failure: list[BaseException] = []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for signum in signals:
                    print(f"stopping ({signal.Signals(signum).name})", flush=True)
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


def run_service(start: Callable[[], Awaitable[None]]) -> None:
    """Run a long-lived command until signalled; our errors become one line and exit code 1."""
    try:
        trio.run(run_until_signalled, start)
    except ZitiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
