"""Start-up progress: what a node or the quickstart is doing while it creates PKI and starts roles."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator


class StartupProgress(Protocol):
    """Told what is happening while roles start (PKI, enrollment, each role)."""

    def step(self, text: str) -> None:
        """A new step begins (the previous one, if any, is finished)."""

    def done(self, ok: bool = True) -> None:
        """Start-up is over: ready (``ok``) or failed in the current step. Stop showing progress."""


class NoProgress:
    """Shows nothing (not a terminal, or a test)."""

    def step(self, text: str) -> None:
        pass

    def done(self, ok: bool = True) -> None:
        pass


def controller_step(first_start: bool) -> str:
    """The step that starts a controller: its first start also generates the PKI."""
    return "generating the PKI, starting the controller" if first_start else "starting the controller"


@contextmanager
def failure_shown(progress: StartupProgress) -> Iterator[None]:
    """End ``progress`` as failed if the block raises (after a finished start-up nothing is left to show)."""
    try:
        yield
    except BaseException:
        progress.done(ok=False)
        raise


def print_flushed(line: str) -> None:
    """Print a start-up line at once, also into a pipe (a script waiting for ``ready in`` sees it then)."""
    print(line, flush=True)
