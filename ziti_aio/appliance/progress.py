"""Start-up progress: what a node or the quickstart is doing while it creates PKI and starts roles."""

from __future__ import annotations

from typing import Protocol


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
