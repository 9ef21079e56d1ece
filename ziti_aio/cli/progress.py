"""Start-up progress on a terminal: a rich spinner naming the current step, a ticked line per finished one
(a crossed one for the step that failed)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.status import Status


class RichProgress:
    """:class:`~ziti_aio.appliance.progress.StartupProgress` drawn with rich on ``console`` (stderr by default)."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._status: Status | None = None
        self._current: str | None = None
        self._since = 0.0

    def step(self, text: str) -> None:
        self._finish_current()
        self._current, self._since = text, time.monotonic()
        if self._status is None:
            self._status = self._console.status(escape(text))
            self._status.start()
        else:
            self._status.update(escape(text))

    def done(self, ok: bool = True) -> None:
        self._finish_current(ok)
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _finish_current(self, ok: bool = True) -> None:
        if self._current is not None:
            took = time.monotonic() - self._since
            mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
            self._console.print(f"{mark} {escape(self._current)} [dim]({took:.2f} s)[/dim]")
            self._current = None
